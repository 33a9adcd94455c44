//! Reading a bound call's arguments, with the function table's documented defaults.

use crate::func::{FuncDef, FunctionTable};
use crate::plan::ir::{Call, Expr};

/// (function, parameter) pairs accepted by the checker but not yet evaluated.
const NOT_HONOURED: &[(&str, &str)] = &[
    ("sort", "reverse"),
    ("table", "reverse"),
    ("kvParse", "onDuplicate"),
    ("kvParse", "separatorPadding"),
    ("parseJson", "removePrefixes"),
    ("collect", "multival"),
];

/// A call's arguments.
#[derive(Debug)]
pub struct Args<'a> {
    pub call: &'a Call,
    pub def: &'static FuncDef,
}

impl<'a> Args<'a> {
    pub fn new(call: &'a Call) -> Result<Args<'a>, String> {
        let def = FunctionTable::builtin().get(&call.name).ok_or_else(|| format!("unknown function {}", call.name))?;
        let a = Args { call, def };
        // Parameters the evaluator does not honour yet: given with anything but their default,
        // they are an error rather than a silently different answer.
        for (f, p) in NOT_HONOURED {
            if def.name == *f {
                if let Some(v) = a.get(p).and_then(Expr::text) {
                    if a.default(p).as_deref() != Some(v) {
                        return Err(format!("{f}({p}={v}) is not supported yet by cqlhunt's evaluator"));
                    }
                }
            }
        }
        Ok(a)
    }

    pub fn get(&self, name: &str) -> Option<&'a Expr> {
        self.call.arg(name)
    }

    /// Text of an argument, or the table's default (quotes removed), or `None`.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(e) => e.text().map(str::to_string),
            None => self.default(name),
        }
    }

    /// The documented default of a parameter.
    pub fn default(&self, name: &str) -> Option<String> {
        let d = self.def.param(name)?.default.clone()?;
        let d = d.strip_prefix('"').and_then(|x| x.strip_suffix('"')).map(str::to_string).unwrap_or(d);
        Some(match d.as_str() {
            "\\n" => "\n".to_string(),
            _ => d,
        })
    }

    pub fn text_or(&self, name: &str, fallback: &str) -> String {
        self.text(name).unwrap_or_else(|| fallback.to_string())
    }

    /// A required text argument.
    pub fn need(&self, name: &str) -> Result<String, String> {
        self.text(name).ok_or_else(|| format!("{}() needs `{name}`", self.def.name))
    }

    /// Field names: one word/string or an array of them (default from the table).
    pub fn names(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(e) => e.names(),
            None => self.default(name).map(|d| vec![d]).unwrap_or_default(),
        }
    }

    pub fn bool(&self, name: &str, fallback: bool) -> bool {
        match self.text(name).as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => fallback,
        }
    }

    /// A number; `max` reads as `max_value`; `-1` (a negated word) is negative.
    pub fn num(&self, name: &str, max_value: f64) -> Option<f64> {
        if let Some(Expr::Unary(crate::lang::ast::UnOp::Neg, inner)) = self.get(name) {
            return inner.text().and_then(crate::event::parse_num).map(|n| -n);
        }
        let t = self.text(name)?;
        if t == "max" {
            return Some(max_value);
        }
        crate::event::parse_num(&t)
    }

    /// An integer limit with a default; returns (value, was it the default).
    pub fn limit(&self, name: &str, fallback: usize, max: usize) -> Result<(usize, bool), String> {
        let given = self.get(name).is_some();
        let v = match self.num(name, max as f64) {
            Some(n) if n >= 0.0 => n as usize,
            Some(_) => return Err(format!("{}(): `{name}` must not be negative", self.def.name)),
            None if given => return Err(format!("{}(): `{name}` must be a number", self.def.name)),
            None => fallback,
        };
        if v > max {
            return Err(format!("{}(): `{name}` is at most {max}", self.def.name));
        }
        Ok((v, !given))
    }

    /// The output field: `as`, or the table's default, or `fallback`.
    pub fn as_field(&self, fallback: &str) -> String {
        self.text("as").unwrap_or_else(|| fallback.to_string())
    }
}
