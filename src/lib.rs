//! cqlhunt: run CrowdStrike LogScale (CQL) detection queries over endpoint telemetry.
//!
//! Stages, each a module, dependencies pointing one way (see ARCHITECTURE.md):
//!
//! ```text
//! diag ← lang (lex → parse → AST → print/fix) ← plan (checks against func::table) ← cli
//! ```

pub mod cli;
pub mod diag;
pub mod eval;
pub mod event;
pub mod func;
pub mod gen;
pub mod hash;
pub mod lang;
pub mod pack;
pub mod plan;
pub mod read;
pub mod sql;
