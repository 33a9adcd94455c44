//! The CQL front end: lexer, parser, AST with spans, printer. No evaluation here.

pub mod ast;
pub mod fix;
pub mod lex;
pub mod parse;
pub mod print;
pub mod spans;

pub use parse::{parse, ParseOptions};
pub use print::query_to_string;
