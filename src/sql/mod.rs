//! CQL to ClickHouse SQL: the same query over a table of events, for data that outgrows one
//! machine. Translated from the plan's IR (never the AST), so a query is checked exactly as
//! `run` checks it first.
//!
//! The table holds events as cqlhunt reads them (`cqlhunt run -e '*' -o ndjson` prints them:
//! ingest fields, mappings and lineage applied), one column per field, named as the field
//! (`#event_simpleName`, `@timestamp`), every column `Nullable(String)` but `@timestamp`
//! (`Nullable(Float64)`, as the NDJSON output writes it). A missing field is `NULL`.
//!
//! Each step becomes one `SELECT` over the previous one. Conditions are written so that a
//! missing field answers as cqlhunt answers (`ifNull(…, 0)` around every comparison, so that
//! `NOT` of a test on a missing field is true). What has no faithful translation is an error
//! naming it, never an approximation: free-text search, functions outside the list in
//! `docs/clickhouse.md`, `head`/`tail` (a table has no input order), lookaround in regexes. Three
//! differences are documented instead: rows that tie on `sort`/`table`/`top` keys across their
//! limit (cqlhunt cuts them in input order, ClickHouse in any), the text of computed numbers from
//! 1e15 and below 1e-5, and `formatTime` outside ClickHouse's `DateTime` (1970–2106).
//! Regexes go to ClickHouse's RE2, which reads the `regex` crate's syntax but for `\d`, `\w`,
//! `\s` and `\b` being ASCII-only there: the same answers on ASCII text.

use crate::lang::ast::{BinOp, UnOp};
use crate::plan::ir::{Call, Expr, Filter, Guard, Matcher, Pipeline, Step};
use std::collections::BTreeSet;

/// A query in ClickHouse SQL.
#[derive(Debug, Clone)]
pub struct Sql {
    /// The `SELECT` statement.
    pub text: String,
    /// The table's columns the query reads (field names), sorted.
    pub inputs: Vec<String>,
    /// The result's columns, in order.
    pub outputs: Vec<String>,
    /// The result's columns that hold numbers (counts, sums, `@timestamp`): ClickHouse gives
    /// them as text, cqlhunt writes them as numbers.
    pub numbers: Vec<String>,
    /// The result's rows are events (no aggregate, `select` or `table` ends the query): they
    /// hold the fields the query names, not every field of the table.
    pub events: bool,
}

/// Translate a compiled query into one ClickHouse `SELECT` over `table`, which has a column for
/// every field the query reads (`--create` makes such a table).
pub fn to_clickhouse(p: &Pipeline, table: &str) -> Result<Sql, String> {
    to_clickhouse_over(p, table, None)
}

/// [`to_clickhouse`] over a table with these columns (`None`: every field the query reads): a
/// field the table lacks reads as missing.
pub fn to_clickhouse_over(p: &Pipeline, table: &str, columns: Option<&[String]>) -> Result<Sql, String> {
    // First pass: the fields the query names (the table's columns it reads); second: the SQL.
    let mut probe = Tx::new(true);
    let base = Rel { sql: String::new(), cols: Vec::new() };
    probe.pipeline(p, base)?;
    let inputs: Vec<String> =
        probe.inputs.into_iter().filter(|f| columns.is_none_or(|c| c.iter().any(|c| c == f))).collect();
    let mut tx = Tx::new(false);
    let select: Vec<String> = inputs.iter().map(|c| input_column(c)).collect();
    let select = if select.is_empty() { "1 AS `_`".to_string() } else { select.join(", ") };
    let base = Rel { sql: format!("SELECT {select} FROM {table}"), cols: inputs.clone() };
    let out = tx.pipeline(p, base)?;
    if out.cols.is_empty() {
        return unsupported("a result without fields (a row of SQL has at least one column)");
    }
    let cols = all(&out.cols);
    let numbers = out.cols.iter().filter(|c| tx.nums.contains(*c)).cloned().collect();
    Ok(Sql { text: format!("SELECT {cols} FROM ({})", out.sql), inputs, outputs: out.cols, numbers, events: tx.events })
}

/// `CREATE TABLE` for a table holding the given fields (see the module documentation).
pub fn create_table(table: &str, fields: &[String]) -> String {
    let mut fields: Vec<&String> = fields.iter().collect();
    fields.sort();
    fields.dedup();
    let cols: Vec<String> = fields.iter().map(|f| format!("    {} {}", ident(f), column_type(f))).collect();
    format!("CREATE TABLE IF NOT EXISTS {table} (\n{}\n) ENGINE = MergeTree() ORDER BY tuple()", cols.join(",\n"))
}

fn column_type(field: &str) -> &'static str {
    if field == "@timestamp" {
        "Nullable(Float64)"
    } else {
        "Nullable(String)"
    }
}

/// A table column as the text every step reads (`@timestamp` as cqlhunt writes its number).
fn input_column(field: &str) -> String {
    if field == "@timestamp" {
        format!("if(isNull({0}), NULL, toString(toInt64({0}))) AS {0}", ident(field))
    } else {
        ident(field)
    }
}

/// A field name as a ClickHouse identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// A text as a ClickHouse string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A relation: a `SELECT` and its columns, in order.
#[derive(Debug, Clone)]
struct Rel {
    sql: String,
    cols: Vec<String>,
}

/// Values a branch of `case` or `match` has assigned so far: a field's SQL over the input row.
type Env = Vec<(String, String)>;

struct Tx {
    /// The fields named before any aggregate (first pass): the table's columns the query reads.
    inputs: BTreeSet<String>,
    /// The first pass, which only gathers `inputs` (its SQL is thrown away).
    first_pass: bool,
    fresh: usize,
    /// No step has made rows of other than events yet.
    events: bool,
    /// The columns that hold numbers at this step.
    nums: BTreeSet<String>,
}

fn unsupported<T>(what: impl std::fmt::Display) -> Result<T, String> {
    Err(format!("no ClickHouse translation for {what}"))
}

impl Tx {
    fn new(first_pass: bool) -> Tx {
        let nums = BTreeSet::from(["@timestamp".to_string()]);
        Tx { inputs: BTreeSet::new(), first_pass, fresh: 0, events: true, nums }
    }

    fn name(&mut self) -> String {
        self.fresh += 1;
        format!("__c{}", self.fresh)
    }

    /// A field read by the query: its SQL in `env` (a branch's assignment), else its column in
    /// the rows so far. One they lack is missing: a field the table lacks, or one an aggregate or
    /// `select` has left out. Before those, every field read is one of the table's (first pass).
    fn field(&mut self, f: &str, env: &Env, cols: &[String]) -> String {
        if let Some((_, v)) = env.iter().rev().find(|(n, _)| n == f) {
            return v.clone();
        }
        if cols.iter().any(|c| c == f) {
            return ident(f);
        }
        if self.events && self.first_pass {
            self.inputs.insert(f.to_string());
        }
        "CAST(NULL AS Nullable(String))".to_string()
    }

    /// A value assigned to a field: a null one writes nothing (the field keeps its value).
    fn kept(&mut self, field: &str, v: String, env: &Env, cols: &[String]) -> String {
        self.nums.remove(field);
        if is_literal(&v) {
            return v;
        }
        let old = self.field(field, env, cols);
        format!("ifNull({v}, {old})")
    }

    fn pipeline(&mut self, p: &Pipeline, mut rel: Rel) -> Result<Rel, String> {
        for s in &p.steps {
            rel = self.step(s, rel)?;
        }
        Ok(rel)
    }

    fn step(&mut self, s: &Step, rel: Rel) -> Result<Rel, String> {
        match s {
            Step::Filter(f) => {
                let (c, sets) = self.filter_step(f, &Vec::new(), &rel.cols)?;
                let rel = where_(rel, &c);
                Ok(if sets.is_empty() { rel } else { assign(rel, &sets) })
            }
            Step::Assign(name, e) => {
                let v = self.value(e, &Vec::new(), &rel.cols)?;
                let v = self.kept(name, v, &Vec::new(), &rel.cols);
                if is_number(e) {
                    self.nums.insert(name.clone());
                }
                Ok(assign(rel, &[(name.clone(), v)]))
            }
            Step::Case(branches) => {
                let mut arms = Vec::new();
                for b in branches {
                    arms.push(self.branch(b, None, &rel.cols)?);
                }
                Ok(self.choose(rel, arms))
            }
            Step::Match(field, arms) => {
                let mut out = Vec::new();
                for (g, body) in arms {
                    let guard = match g {
                        Guard::Any => "1".to_string(),
                        Guard::Pattern(m) => {
                            let f = self.field(field, &Vec::new(), &rel.cols);
                            matcher(&f, m)?
                        }
                        Guard::Call(c) => {
                            let mut c = c.clone();
                            if c.arg("field").is_none() {
                                c.args.push(("field".to_string(), Expr::Word(field.clone())));
                            }
                            self.filter_call(&c, &Vec::new(), &rel.cols)?
                        }
                    };
                    out.push(self.branch(body, Some(guard), &rel.cols)?);
                }
                Ok(self.choose(rel, out))
            }
            Step::Union(branches) => {
                let mut parts = Vec::new();
                for b in branches {
                    parts.push(self.pipeline(b, rel.clone())?);
                }
                let mut cols: Vec<String> = Vec::new();
                for p in &parts {
                    for c in &p.cols {
                        if !cols.contains(c) {
                            cols.push(c.clone());
                        }
                    }
                }
                let selects: Vec<String> = parts.into_iter().map(|p| project(p, &cols).sql).collect();
                Ok(Rel { sql: format!("SELECT * FROM ({})", selects.join(" UNION ALL ")), cols })
            }
            Step::Call(c) => self.call(c, rel),
        }
    }

    /// A branch of `case`/`match` made of filters and assignments: whether it takes the input
    /// row, and what it assigns, both over the input row.
    fn branch(&mut self, p: &Pipeline, guard: Option<String>, cols: &[String]) -> Result<(String, Env), String> {
        let mut env: Env = Vec::new();
        let mut conds: Vec<String> = guard.into_iter().collect();
        for s in &p.steps {
            match s {
                Step::Filter(f) => {
                    let (c, sets) = self.filter_step(f, &env, cols)?;
                    conds.push(c);
                    env.extend(sets);
                }
                Step::Assign(name, e) => {
                    let v = self.value(e, &env, cols)?;
                    let v = self.kept(name, v, &env, cols);
                    env.push((name.clone(), v));
                }
                Step::Call(c) if is_transform(c) => {
                    for (name, v) in self.transform(c, &env, cols)? {
                        env.push((name, v));
                    }
                }
                Step::Call(c) if c.category != crate::func::Category::Aggregate => {
                    let (cond, sets) = self.filter_step(&Filter::Call(c.clone()), &env, cols)?;
                    conds.push(cond);
                    env.extend(sets);
                }
                _ => return unsupported("a `case` or `match` branch with steps other than filters and assignments"),
            }
        }
        let cond = if conds.is_empty() { "1".to_string() } else { conds.join(" AND ") };
        Ok((cond, env))
    }

    /// The first branch that takes each row: its assignments applied, rows no branch takes
    /// dropped.
    fn choose(&mut self, rel: Rel, arms: Vec<(String, Env)>) -> Rel {
        let b = self.name();
        let mut which = String::from("multiIf(");
        for (i, (cond, _)) in arms.iter().enumerate() {
            which.push_str(&format!("{cond}, {}, ", i + 1));
        }
        which.push_str("0)");
        let mut cols = rel.cols.clone();
        for (_, env) in &arms {
            for (n, _) in env {
                if !cols.contains(n) {
                    cols.push(n.clone());
                }
            }
        }
        let list: Vec<String> = cols
            .iter()
            .map(|c| {
                let own = if rel.cols.contains(c) { ident(c) } else { "CAST(NULL AS Nullable(String))".to_string() };
                let mut alts = Vec::new();
                for (i, (_, env)) in arms.iter().enumerate() {
                    if let Some((_, v)) = env.iter().rev().find(|(n, _)| n == c) {
                        alts.push(format!("{b} = {}, {v}", i + 1));
                    }
                }
                if alts.is_empty() {
                    return format!("{own} AS {}", ident(&format!("{c}{b}")));
                }
                format!("multiIf({}, {own}) AS {}", alts.join(", "), ident(&format!("{c}{b}")))
            })
            .collect();
        let inner = format!("SELECT {}, {which} AS {b} FROM ({})", all(&rel.cols), rel.sql);
        let renamed: Vec<String> =
            cols.iter().map(|c| format!("{} AS {}", ident(&format!("{c}{b}")), ident(c))).collect();
        let mid = format!("SELECT {} FROM ({inner}) WHERE {b} != 0", list.join(", "));
        Rel { sql: format!("SELECT {} FROM ({mid})", renamed.join(", ")), cols }
    }

    fn call(&mut self, c: &Call, rel: Rel) -> Result<Rel, String> {
        if is_transform(c) {
            let sets = self.transform(c, &Vec::new(), &rel.cols)?;
            return Ok(assign(rel, &sets));
        }
        let out = self.call_step(c, rel);
        // The fields the call reads were read from events; those read after it are not (but
        // after `sort`, whose rows are still the events).
        let rows_of_its_own = c.category == crate::func::Category::Aggregate && c.name != "sort";
        if matches!(c.name.as_str(), "select" | "table") || rows_of_its_own {
            self.events = false;
        }
        out
    }

    fn call_step(&mut self, c: &Call, rel: Rel) -> Result<Rel, String> {
        match c.name.as_str() {
            "select" => {
                let fields = names(c, "fields");
                for f in &fields {
                    self.field(f, &Vec::new(), &rel.cols);
                }
                Ok(project(rel, &fields))
            }
            "drop" => {
                let gone = names(c, "fields");
                let keep: Vec<String> = rel.cols.iter().filter(|c| !gone.contains(c)).cloned().collect();
                Ok(project(rel, &keep))
            }
            "rename" => {
                let (Some(from), Some(to)) = (text(c, "field"), text(c, "as")) else {
                    return unsupported("rename() of several fields");
                };
                let v = self.field(&from, &Vec::new(), &rel.cols);
                if self.nums.contains(&from) {
                    self.nums.insert(to.clone());
                } else {
                    self.nums.remove(&to);
                }
                let rel = assign(rel, &[(to, v)]);
                let keep: Vec<String> = rel.cols.iter().filter(|c| **c != from).cloned().collect();
                Ok(project(rel, &keep))
            }
            "count" => {
                let out = text(c, "as").unwrap_or_else(|| "_count".to_string());
                let agg = self.count(c, &rel.cols)?;
                self.nums = BTreeSet::from([out.clone()]);
                Ok(Rel { sql: format!("SELECT {agg} AS {} FROM ({})", ident(&out), rel.sql), cols: vec![out] })
            }
            "sum" | "min" | "max" | "avg" => {
                let (agg, out) = self.numeric(c, &rel.cols)?;
                self.nums = BTreeSet::from([out.clone()]);
                Ok(Rel { sql: format!("SELECT {agg} AS {} FROM ({})", ident(&out), rel.sql), cols: vec![out] })
            }
            "groupBy" => self.group_by(c, rel),
            "timeChart" | "bucket" => self.buckets(c, rel),
            "top" => {
                if c.arg("rest").is_some() || matches!(text(c, "percent").as_deref(), Some("true")) {
                    return unsupported("top(rest=…) or top(percent=true)");
                }
                let fields = names(c, "field");
                if fields.is_empty() {
                    return Err("top() needs a field".to_string());
                }
                let limit = limit(c, 10)?;
                // An event that lacks a field (or the weight's number) is not counted.
                let mut conds = Vec::new();
                let mut select = Vec::new();
                for f in &fields {
                    let v = self.field(f, &Vec::new(), &rel.cols);
                    conds.push(format!("isNotNull({v})"));
                    select.push(format!("{v} AS {}", ident(f)));
                }
                let (agg, default_out) = match (text(c, "sum"), text(c, "max")) {
                    (Some(_), Some(_)) => return Err("top(): give sum= or max=, not both".to_string()),
                    (Some(f), None) | (None, Some(f)) => {
                        let v = self.field(&f, &Vec::new(), &rel.cols);
                        let n = format!("toFloat64OrNull({v})");
                        conds.push(format!("isNotNull({n})"));
                        let func = if c.arg("sum").is_some() { "sum" } else { "max" };
                        (format!("{func}(assumeNotNull({n}))"), format!("_{func}"))
                    }
                    (None, None) => ("count()".to_string(), "_count".to_string()),
                };
                let out = text(c, "as").unwrap_or(default_out);
                let mut cols = fields.clone();
                if cols.contains(&out) {
                    return unsupported(format!("top() with an output named as its field {out}"));
                }
                cols.push(out.clone());
                self.nums = BTreeSet::from([out.clone()]);
                let by: Vec<String> = fields.iter().map(|f| ident(f)).collect();
                // Ties at the limit are cut by the input's order in cqlhunt: which of them are
                // kept here may differ (as for `sort`).
                Ok(Rel {
                    sql: format!(
                        "SELECT {}, toString({agg}) AS {} FROM ({}) WHERE {} GROUP BY {} ORDER BY {agg} DESC LIMIT {limit}",
                        select.join(", "),
                        ident(&out),
                        rel.sql,
                        conds.join(" AND "),
                        by.join(", ")
                    ),
                    cols,
                })
            }
            "stats" => {
                let mut select = Vec::new();
                let mut cols: Vec<String> = Vec::new();
                for (agg, out) in self.aggregates(c, &rel.cols)? {
                    if cols.contains(&out) {
                        return unsupported(format!("stats() with two outputs named {out}"));
                    }
                    select.push(format!("{agg} AS {}", ident(&out)));
                    cols.push(out);
                }
                self.nums = cols.iter().cloned().collect();
                Ok(Rel { sql: format!("SELECT {} FROM ({})", select.join(", "), rel.sql), cols })
            }
            "sort" => {
                let mut fields = names(c, "field");
                if fields.is_empty() {
                    fields.push("_count".to_string());
                }
                let limit = limit(c, 200)?;
                let order = self.order_by(&fields, &names(c, "order"), &names(c, "type"), &rel.cols)?;
                Ok(Rel {
                    sql: format!("SELECT {} FROM ({}) ORDER BY {order} LIMIT {limit}", all(&rel.cols), rel.sql),
                    cols: rel.cols,
                })
            }
            "table" => {
                let fields = names(c, "fields");
                let mut sortby = names(c, "sortby");
                if sortby.is_empty() {
                    sortby.push("@timestamp".to_string());
                }
                let limit = limit(c, 200)?;
                let order = self.order_by(&sortby, &names(c, "order"), &names(c, "type"), &rel.cols)?;
                for f in &fields {
                    self.field(f, &Vec::new(), &rel.cols);
                }
                let sorted =
                    Rel { sql: format!("SELECT * FROM ({}) ORDER BY {order} LIMIT {limit}", rel.sql), cols: rel.cols };
                Ok(project(sorted, &fields))
            }
            "head" | "tail" => unsupported(format!("{}(): a ClickHouse table keeps no input order", c.name)),
            _ if c.category == crate::func::Category::Aggregate => unsupported(format!("{}()", c.name)),
            _ => self.step(&Step::Filter(Filter::Call(c.clone())), rel),
        }
    }

    /// `count()` as an aggregate expression (the count as text, as every column is).
    fn count(&mut self, c: &Call, cols: &[String]) -> Result<String, String> {
        let distinct = matches!(text(c, "distinct").as_deref(), Some("true"));
        Ok(match text(c, "field") {
            None => "toString(count())".to_string(),
            Some(f) => {
                let v = self.field(&f, &Vec::new(), cols);
                if distinct {
                    // Over no values, an aggregate of a `Nullable` column is `NULL`: the count is 0.
                    format!("toString(ifNull(uniqExact({v}), 0))")
                } else {
                    format!("toString(count({v}))")
                }
            }
        })
    }

    /// `sum`/`min`/`max`/`avg` of a field's numbers: the aggregate and its output's name.
    fn numeric(&mut self, c: &Call, cols: &[String]) -> Result<(String, String), String> {
        let f = text(c, "field").ok_or_else(|| format!("{}() needs a field", c.name))?;
        let v = self.field(&f, &Vec::new(), cols);
        let out = text(c, "as").unwrap_or_else(|| format!("_{}", c.name));
        let n = format!("toFloat64OrNull({v})");
        // No number among the values: a sum of 0; no min, max or average (NULL), as cqlhunt.
        let agg = match c.name.as_str() {
            "sum" => format!("toString(ifNull(sum({n}), 0))"),
            name => format!("if(count({n}) = 0, NULL, toString({name}({n})))"),
        };
        Ok((agg, out))
    }

    fn group_by(&mut self, c: &Call, rel: Rel) -> Result<Rel, String> {
        let keys = names(c, "field");
        if keys.is_empty() {
            return Err("groupBy() needs at least one field".to_string());
        }
        let mut select = Vec::new();
        for k in &keys {
            select.push(format!("{} AS {}", self.field(k, &Vec::new(), &rel.cols), ident(k)));
        }
        let mut cols = keys.clone();
        // cqlhunt keeps the first 20,000 groups (`limit=max`: 1,000,000), ClickHouse every one:
        // the same rows up to there. Past a smaller limit, which groups are kept depends on the
        // input's order, which a table does not keep.
        if text(c, "limit").is_some_and(|l| l != "max") {
            return unsupported("groupBy(limit=…): the groups kept depend on the input's order");
        }
        for (agg, out) in self.aggregates(c, &rel.cols)? {
            if cols.contains(&out) {
                return unsupported(format!("groupBy() with two outputs named {out}"));
            }
            select.push(format!("{agg} AS {}", ident(&out)));
            cols.push(out);
        }
        let mut nums: BTreeSet<String> = keys.iter().filter(|k| self.nums.contains(*k)).cloned().collect();
        nums.extend(cols[keys.len()..].iter().cloned());
        self.nums = nums;
        let by: Vec<String> = keys.iter().map(|k| ident(k)).collect();
        Ok(Rel { sql: format!("SELECT {} FROM ({}) GROUP BY {}", select.join(", "), rel.sql, by.join(", ")), cols })
    }

    /// `timeChart()` and `bucket()`: a row per time bucket (and series), as cqlhunt makes them:
    /// events without a time left out, the `limit` series with the most events kept (ties by
    /// their values, a missing one first).
    fn buckets(&mut self, c: &Call, rel: Rel) -> Result<Rel, String> {
        if c.arg("buckets").is_some() && c.arg("span").is_none() {
            return unsupported(format!("{}(buckets=…)", c.name));
        }
        let span = match text(c, "span") {
            Some(s) if s != "auto" => {
                crate::eval::time::parse_span(&s).ok_or_else(|| format!("{}(): `{s}` is not a time span", c.name))?
            }
            _ => 3_600_000.0,
        };
        let series = names(c, if c.name == "timeChart" { "series" } else { "field" });
        let limit = limit(c, 10)?;
        let mut aggs = self.aggregates(c, &rel.cols)?;
        if aggs.is_empty() {
            aggs.push(("toString(count())".to_string(), "_count".to_string()));
        }
        let ts = format!("toFloat64OrNull({})", self.field("@timestamp", &Vec::new(), &rel.cols));
        let mut keys = Vec::new();
        for k in &series {
            keys.push((self.field(k, &Vec::new(), &rel.cols), k.clone()));
        }
        let inner = format!(
            "SELECT *, toInt64(floor({ts} / {span})) * {} AS __b FROM ({}) WHERE isNotNull({ts})",
            number(span),
            rel.sql
        );
        let mut cols = vec!["_bucket".to_string()];
        let mut select = vec![format!("toString(toInt64(__b)) AS {}", ident("_bucket"))];
        let mut by = vec!["__b".to_string()];
        for (v, k) in &keys {
            select.push(format!("{v} AS {}", ident(k)));
            by.push(v.clone());
            cols.push(k.clone());
        }
        let mut filter = String::new();
        if !keys.is_empty() {
            // A series as (missing, value) pairs: exact, a missing value apart from every text.
            let sig: Vec<String> = keys.iter().map(|(v, _)| format!("isNull({v}), ifNull({v}, '')")).collect();
            let order: Vec<String> =
                keys.iter().map(|(v, _)| format!("isNull({v}) DESC, ifNull({v}, '') ASC")).collect();
            filter = format!(
                " WHERE ({sig}) IN (SELECT {sig} FROM ({inner}) GROUP BY {sig} ORDER BY count() DESC, {order} LIMIT {limit})",
                sig = sig.join(", "),
                order = order.join(", ")
            );
        }
        for (agg, out) in aggs {
            if cols.contains(&out) {
                return unsupported(format!("{}() with two outputs named {out}", c.name));
            }
            select.push(format!("{agg} AS {}", ident(&out)));
            cols.push(out);
        }
        let mut nums: BTreeSet<String> = cols.iter().filter(|c| !series.contains(*c)).cloned().collect();
        nums.extend(series.iter().filter(|k| self.nums.contains(*k)).cloned());
        self.nums = nums;
        let sql = format!("SELECT {} FROM ({inner}){filter} GROUP BY {}", select.join(", "), by.join(", "));
        Ok(Rel { sql, cols })
    }

    /// The functions of `groupBy()` or `stats()` (`function=`; a count without it) as
    /// (aggregate, output name).
    fn aggregates(&mut self, c: &Call, cols: &[String]) -> Result<Vec<(String, String)>, String> {
        let Some(funcs) = c.arg("function") else {
            return Ok(vec![("toString(count())".to_string(), "_count".to_string())]);
        };
        let mut out = Vec::new();
        for f in funcs.items() {
            let Expr::Call(sub) = f else { return unsupported(format!("a {}() function that is not a call", c.name)) };
            out.push(match sub.name.as_str() {
                "count" => (self.count(sub, cols)?, text(sub, "as").unwrap_or_else(|| "_count".to_string())),
                "sum" | "min" | "max" | "avg" => self.numeric(sub, cols)?,
                other => return unsupported(format!("{other}() in {}()", c.name)),
            });
        }
        // `stats()` of no function counts, as cqlhunt's does.
        if out.is_empty() && c.name == "stats" {
            out.push(("toString(count())".to_string(), "_count".to_string()));
        }
        Ok(out)
    }

    /// `ORDER BY` as `sort()` orders: numbers by default, missing and unconvertible values last.
    fn order_by(
        &mut self,
        fields: &[String],
        orders: &[String],
        types: &[String],
        cols: &[String],
    ) -> Result<String, String> {
        let pick = |v: &[String], i: usize| v.get(i).or(v.last()).cloned();
        let mut out = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            let v = self.field(f, &Vec::new(), cols);
            let dir = match pick(orders, i).map(|o| o.to_ascii_lowercase()).as_deref() {
                None | Some("desc") | Some("descending") => "DESC",
                Some("asc") | Some("ascending") => "ASC",
                Some(o) => return Err(format!("order={o} is not asc or desc")),
            };
            let key = match pick(types, i).as_deref() {
                None | Some("number") => format!("toFloat64OrNull({v})"),
                Some("string") => v,
                Some(t) => return unsupported(format!("sort type={t}")),
            };
            out.push(format!("{key} {dir} NULLS LAST"));
        }
        Ok(out.join(", "))
    }

    /// A filter step: its condition, and the fields its regex's named groups write (each kept
    /// as it was when its group takes no part in the match), both over the step's input row.
    fn filter_step(
        &mut self,
        f: &Filter,
        env: &Env,
        cols: &[String],
    ) -> Result<(String, Vec<(String, String)>), String> {
        let (v, rx, strict) = match f {
            Filter::Field(name, Matcher::Regex(rx)) if !rx.names.is_empty() => {
                (self.field(name, env, cols), std::sync::Arc::clone(rx), true)
            }
            Filter::Call(c) if c.name == "regex" => {
                let (rx, v) = self.regex_args(c, env, cols)?;
                let strict = !matches!(text(c, "strict").as_deref(), Some("false"));
                if rx.names.is_empty() || c.negated {
                    let hit = format!("ifNull(match({v}, {}), 0)", lit(&re2(rx.compiled())?));
                    let cond = if strict { hit } else { "1".to_string() };
                    if !rx.names.is_empty() {
                        return unsupported("a negated regex() with named groups");
                    }
                    return Ok((if c.negated { format!("NOT ({cond})") } else { cond }, Vec::new()));
                }
                (v, std::sync::Arc::new(rx), strict)
            }
            _ => return Ok((self.filter(f, env, cols)?, Vec::new())),
        };
        let hit = format!("ifNull(match({v}, {}), 0)", lit(&re2(rx.compiled())?));
        let mut sets = Vec::new();
        for (name, pattern) in extraction(rx.compiled(), &rx.names)? {
            let value = format!("if({hit}, nullIf(extract({v}, {}), ''), NULL)", lit(&re2(&pattern)?));
            sets.push((name.clone(), self.kept(&name, value, env, cols)));
        }
        Ok((if strict { hit } else { "1".to_string() }, sets))
    }

    /// A filter as a condition that is never `NULL`.
    fn filter(&mut self, f: &Filter, env: &Env, cols: &[String]) -> Result<String, String> {
        Ok(match f {
            Filter::And(v) => join(v.iter().map(|f| self.filter(f, env, cols)).collect::<Result<_, _>>()?, "AND"),
            Filter::Or(v) => join(v.iter().map(|f| self.filter(f, env, cols)).collect::<Result<_, _>>()?, "OR"),
            Filter::Not(f) => format!("NOT ({})", self.filter(f, env, cols)?),
            Filter::Field(name, m) => {
                let v = self.field(name, env, cols);
                matcher(&v, m)?
            }
            Filter::Num(name, op, n) => {
                let v = self.field(name, env, cols);
                let op = match op {
                    BinOp::Lt => "<",
                    BinOp::Le => "<=",
                    BinOp::Gt => ">",
                    BinOp::Ge => ">=",
                    BinOp::Eq => "=",
                    BinOp::Ne => "!=",
                    other => return unsupported(format!("the comparison `{}`", other.as_str())),
                };
                format!("ifNull(toFloat64OrNull({v}) {op} {}, 0)", number(*n))
            }
            Filter::Text(_) => return unsupported("free-text search (no column holds every field)"),
            Filter::Bool(b) => u8::from(*b).to_string(),
            Filter::Call(c) => self.filter_call(c, env, cols)?,
            Filter::Pipeline(p) => {
                let mut conds = Vec::new();
                for s in &p.steps {
                    match s {
                        Step::Filter(f) => conds.push(self.filter(f, env, cols)?),
                        _ => return unsupported("a parenthesised pipeline with steps other than filters"),
                    }
                }
                join(conds, "AND")
            }
        })
    }

    /// A filter function: `in`, `regex`, `test`.
    fn filter_call(&mut self, c: &Call, env: &Env, cols: &[String]) -> Result<String, String> {
        let cond = match c.name.as_str() {
            "in" => {
                let f = text(c, "field").ok_or("in() needs a field")?;
                let v = self.field(&f, env, cols);
                let ic = matches!(text(c, "ignoreCase").as_deref(), Some("true"));
                let values = c.arg("values").map(Expr::names).unwrap_or_default();
                let tests: Vec<String> = values
                    .iter()
                    .map(|x| matcher(&v, &Matcher::Glob(std::sync::Arc::new(crate::plan::ir::Glob::new(x, ic)))))
                    .collect::<Result<_, _>>()?;
                if tests.is_empty() {
                    "0".to_string()
                } else {
                    join(tests, "OR")
                }
            }
            "regex" => {
                let (rx, field) = self.regex_args(c, env, cols)?;
                if !rx.names.is_empty() {
                    return unsupported(format!("the named groups of {} here (they extract fields)", rx.source));
                }
                if matches!(text(c, "strict").as_deref(), Some("false")) {
                    "1".to_string()
                } else {
                    format!("ifNull(match({field}, {}), 0)", lit(&re2(rx.compiled())?))
                }
            }
            "test" => {
                let e = c.arg("expression").ok_or("test() needs an expression")?;
                self.truth(e, env, cols)?
            }
            "wildcard" => {
                let pattern = text(c, "pattern").ok_or("wildcard() needs a pattern")?;
                let ic = matches!(text(c, "ignoreCase").as_deref(), Some("true"));
                let fields = names(c, "field");
                if fields.is_empty() {
                    return unsupported("wildcard() without a field (a free-text search)");
                }
                let glob = Matcher::Glob(std::sync::Arc::new(crate::plan::ir::Glob::new(&pattern, ic)));
                let mut tests = Vec::new();
                for f in fields {
                    let v = self.field(&f, env, cols);
                    tests.push(matcher(&v, &glob)?);
                }
                join(tests, "OR")
            }
            name @ ("text:contains" | "text:startsWith" | "text:endsWith") => {
                let string = self.value(c.arg("string").ok_or("needs `string`")?, env, cols)?;
                let sub = ["substring", "prefix", "suffix"].iter().find_map(|n| c.arg(n));
                let sub = self.value(sub.ok_or_else(|| format!("{name}() needs its second text"))?, env, cols)?;
                match name {
                    "text:contains" => format!("ifNull(position({string}, {sub}) > 0, 0)"),
                    "text:startsWith" => format!("ifNull(startsWith({string}, {sub}), 0)"),
                    _ => format!("ifNull(endsWith({string}, {sub}), 0)"),
                }
            }
            other => return unsupported(format!("{other}()")),
        };
        Ok(if c.negated { format!("NOT ({cond})") } else { cond })
    }

    /// `regex()`'s pattern, compiled, and the field it reads.
    fn regex_args(&mut self, c: &Call, env: &Env, cols: &[String]) -> Result<(crate::plan::rx::Rx, String), String> {
        let pattern = text(c, "regex").ok_or("regex() needs a pattern")?;
        let flags: String = text(c, "flags").unwrap_or_else(|| "m".to_string()).chars().filter(|c| *c != 'g').collect();
        if matches!(text(c, "repeat").as_deref(), Some("true")) {
            return unsupported("regex(repeat=true)");
        }
        let rx = crate::plan::rx::compile(&pattern, &flags, &format!("/{pattern}/"))?;
        let field = text(c, "field").unwrap_or_else(|| "@rawstring".to_string());
        let v = self.field(&field, env, cols);
        Ok((rx, v))
    }

    /// Transform functions written as assignments: `(field, value)` pairs.
    fn transform(&mut self, c: &Call, env: &Env, cols: &[String]) -> Result<Vec<(String, String)>, String> {
        match c.name.as_str() {
            "replace" => {
                let field = text(c, "field").unwrap_or_else(|| "@rawstring".to_string());
                let out = text(c, "as").unwrap_or_else(|| field.clone());
                let pattern = text(c, "regex").ok_or("replace() needs a regex")?;
                let flags = text(c, "flags").unwrap_or_else(|| "m".to_string());
                let rx = crate::plan::rx::compile(&pattern, &flags, &format!("/{pattern}/"))?;
                let hir = regex_syntax::ParserBuilder::new().build().parse(rx.compiled());
                if hir.ok().and_then(|h| h.properties().minimum_len()).is_none_or(|n| n == 0) {
                    return unsupported(format!("replace() with /{pattern}/, which can match the empty string"));
                }
                let with = ch_replacement(&text(c, "with").unwrap_or_default())?;
                let v = self.field(&field, env, cols);
                let r = format!("replaceRegexpAll({v}, {}, {})", lit(&re2(rx.compiled())?), lit(&with));
                Ok(vec![(out.clone(), self.kept(&out, r, env, cols))])
            }
            name if VALUE_FUNCTIONS.contains(&name) => {
                let out = text(c, "as").unwrap_or_else(|| format!("_{name}"));
                let v = self.call_value(c, env, cols)?;
                Ok(vec![(out.clone(), self.kept(&out, v, env, cols))])
            }
            "default" => {
                let value = text(c, "value").ok_or("default() needs value=")?;
                let empty = matches!(text(c, "replaceEmpty").as_deref(), Some("true"));
                let mut out = Vec::new();
                for f in names(c, "field") {
                    let v = self.field(&f, env, cols);
                    let missing = if empty { format!("isNull({v}) OR {v} = ''") } else { format!("isNull({v})") };
                    self.nums.remove(&f);
                    out.push((f, format!("if({missing}, {}, {v})", lit(&value))));
                }
                Ok(out)
            }
            _ => unsupported(format!("{}()", c.name)),
        }
    }

    /// The value of a function that writes one (`NULL`: it writes nothing).
    fn call_value(&mut self, c: &Call, env: &Env, cols: &[String]) -> Result<String, String> {
        match c.name.as_str() {
            "lower" | "upper" | "length" => self.one_field(c, env, cols),
            "if" => self.if_value(c, env, cols),
            "format" => {
                let fmt = text(c, "format").ok_or("format() needs a format")?;
                let mut vals = Vec::new();
                for f in names(c, "field") {
                    vals.push(self.field(&f, env, cols));
                }
                // `%s` and `%%` only: a number's conversions depend on the value's type.
                let mut parts = Vec::new();
                let (mut lit_text, mut i) = (String::new(), 0);
                let mut chars = fmt.chars().peekable();
                while let Some(ch) = chars.next() {
                    if ch != '%' {
                        lit_text.push(ch);
                        continue;
                    }
                    match chars.next() {
                        Some('%') => lit_text.push('%'),
                        Some('s') => {
                            parts.push(lit(&std::mem::take(&mut lit_text)));
                            // A missing value prints `null` (docs/semantics.md).
                            let v =
                                vals.get(i).cloned().unwrap_or_else(|| "CAST(NULL AS Nullable(String))".to_string());
                            parts.push(format!("ifNull({v}, 'null')"));
                            i += 1;
                        }
                        _ => return unsupported(format!("format(\"{fmt}\"): conversions other than %s")),
                    }
                }
                parts.push(lit(&lit_text));
                Ok(format!("concat({})", parts.join(", ")))
            }
            "concat" => {
                let mut parts = vec!["''".to_string(), "''".to_string()];
                for f in names(c, "field") {
                    let v = self.field(&f, env, cols);
                    parts.push(format!("ifNull({v}, '')"));
                }
                Ok(format!("concat({})", parts.join(", ")))
            }
            "coalesce" => {
                let ignore_empty = !matches!(text(c, "ignoreEmpty").as_deref(), Some("false"));
                let items = c.arg("expressions").ok_or("coalesce() needs expressions")?.items();
                let mut arms = Vec::new();
                for e in items {
                    let v = self.value(e, env, cols)?;
                    let ok = if ignore_empty { format!("ifNull({v} != '', 0)") } else { format!("isNotNull({v})") };
                    arms.push(format!("{ok}, {v}"));
                }
                arms.push("CAST(NULL AS Nullable(String))".to_string());
                Ok(format!("multiIf({})", arms.join(", ")))
            }
            "formatTime" => self.format_time(c, env, cols),
            other => unsupported(format!("{other}()")),
        }
    }

    /// `formatTime()` as `eval::time::strftime` writes it, piece by piece (ClickHouse's
    /// `formatDateTime` for the conversions both write alike). Times before 1970 or from 2106 on
    /// (outside ClickHouse's `DateTime`) give no value.
    fn format_time(&mut self, c: &Call, env: &Env, cols: &[String]) -> Result<String, String> {
        const DAYS: &str = "['Monday','Tuesday','Wednesday','Thursday','Friday','Saturday','Sunday']";
        const MONTHS: &str =
            "['January','February','March','April','May','June','July','August','September','October','November','December']";
        let fmt = text(c, "format").ok_or("formatTime() needs a format")?;
        let field = text(c, "field").unwrap_or_else(|| "@timestamp".to_string());
        let tz = text(c, "timezone").unwrap_or_else(|| "UTC".to_string());
        let offset = crate::eval::time::tz_offset_minutes(&tz)?;
        let v = self.field(&field, env, cols);
        let n = format!("toFloat64OrNull(materialize({v}))");
        let ms = match text(c, "unit").as_deref().unwrap_or("auto") {
            "milliseconds" => n.clone(),
            "seconds" => format!("({n} * 1000)"),
            _ => format!("if(ifNull(abs({n}) <= 1e11, 0), {n} * 1000, {n})"),
        };
        let raw = format!("toInt64(floor({ms}))");
        let local = format!("({raw} + {})", offset * 60_000);
        let dt = format!("toDateTime(intDiv({local}, 1000), 'UTC')");
        let f = |spec: &str| format!("formatDateTime({dt}, '{spec}', 'UTC')");
        let milli = format!("substring(toString(1000 + ({local} % 1000)), 2)");
        let h12 = format!("if(toHour({dt}) % 12 = 0, 12, toHour({dt}) % 12)");
        let sign = if offset < 0 { '-' } else { '+' };
        let (oh, om) = (offset.abs() / 60, offset.abs() % 60);
        let zone = if offset == 0 { "UTC".to_string() } else { format!("GMT{sign}{oh:02}:{om:02}") };
        let mut parts = vec!["''".to_string()];
        let mut run = String::new();
        for p in crate::eval::time::time_pieces(&fmt) {
            let k = match p {
                crate::eval::time::TimePiece::Text(ch) => {
                    run.push(ch);
                    continue;
                }
                crate::eval::time::TimePiece::Conv(k) => k,
            };
            let piece = match k {
                'Y' | 'm' | 'd' | 'H' | 'M' | 'S' | 'F' | 'T' | 'R' | 'D' | 'j' | 'y' | 'C' | 'I' => {
                    f(&format!("%{k}"))
                }
                'L' => milli.clone(),
                'N' => format!("concat({milli}, '000000')"),
                'e' => format!("toString(toDayOfMonth({dt}))"),
                'k' => format!("toString(toHour({dt}))"),
                'l' => format!("toString({h12})"),
                'p' => format!("if(toHour({dt}) < 12, 'am', 'pm')"),
                'r' => format!("concat({}, if(toHour({dt}) < 12, ' AM', ' PM'))", f("%I:%M:%S")),
                'a' => format!("substring({DAYS}[toDayOfWeek({dt})], 1, 3)"),
                'A' => format!("{DAYS}[toDayOfWeek({dt})]"),
                'b' | 'h' => format!("substring({MONTHS}[toMonth({dt})], 1, 3)"),
                'B' => format!("{MONTHS}[toMonth({dt})]"),
                's' => format!("toString(intDiv({raw}, 1000))"),
                'Q' => format!("toString({raw})"),
                'z' => lit(&format!("{sign}{oh:02}{om:02}")),
                'Z' => lit(&zone),
                'n' => {
                    run.push('\n');
                    continue;
                }
                '%' => {
                    run.push('%');
                    continue;
                }
                'c' => return unsupported("formatTime(\"%c\")"),
                other => {
                    run.push('%');
                    run.push(other);
                    continue;
                }
            };
            parts.push(lit(&std::mem::take(&mut run)));
            parts.push(piece);
        }
        parts.push(lit(&run));
        let in_range = format!("ifNull({local} >= 0 AND {local} < 4294967296000, 0)");
        Ok(format!("if({in_range}, concat({}), NULL)", parts.join(", ")))
    }

    /// `lower`, `upper` or `length` of a field (`NULL` when it is missing).
    fn one_field(&mut self, c: &Call, env: &Env, cols: &[String]) -> Result<String, String> {
        let Some(f) = text(c, "field") else { return unsupported(format!("{}() of other than a field", c.name)) };
        let v = self.field(&f, env, cols);
        Ok(match c.name.as_str() {
            "lower" => format!("lowerUTF8({v})"),
            "upper" => format!("upperUTF8({v})"),
            _ => format!("toString(lengthUTF8({v}))"),
        })
    }

    fn if_value(&mut self, c: &Call, env: &Env, cols: &[String]) -> Result<String, String> {
        let cond = self.truth(c.arg("condition").ok_or("if() needs a condition")?, env, cols)?;
        let then = self.value(c.arg("then").ok_or("if() needs then=")?, env, cols)?;
        let els = self.value(c.arg("else").ok_or("if() needs else=")?, env, cols)?;
        Ok(format!("if({cond}, {then}, {els})"))
    }

    /// An expression's value: `Nullable(String)`, `NULL` when cqlhunt's is null.
    fn value(&mut self, e: &Expr, env: &Env, cols: &[String]) -> Result<String, String> {
        Ok(match e {
            Expr::Str(s) => lit(s),
            Expr::Word(w) => match crate::event::parse_num(w) {
                Some(n) => lit(&crate::event::format_num(n)),
                None => self.field(w, env, cols),
            },
            Expr::Call(c) if VALUE_FUNCTIONS.contains(&c.name.as_str()) => self.call_value(c, env, cols)?,
            Expr::Call(c) if matches!(c.name.as_str(), "regex" | "in" | "test") => {
                format!("if({}, 'true', 'false')", self.filter_call(c, env, cols)?)
            }
            Expr::Binary(op, a, b)
                if matches!(op, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) =>
            {
                let t = self.compare(*op, a, b, env, cols)?;
                format!("if(isNull({t}), NULL, if({t}, 'true', 'false'))")
            }
            Expr::Unary(UnOp::Not, x) => {
                let v = self.value(x, env, cols)?;
                format!("if(isNull({v}), NULL, if({}, 'false', 'true'))", truthy(&v))
            }
            Expr::Binary(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div), a, b) => {
                let (x, y) = (self.value(a, env, cols)?, self.value(b, env, cols)?);
                // `materialize`: ClickHouse before 19.x fails to fold a constant `Nullable` here.
                let (x, y) =
                    (format!("toFloat64OrNull(materialize({x}))"), format!("toFloat64OrNull(materialize({y}))"));
                // Division by zero and results that are not finite are null, as in cqlhunt.
                let r = match op {
                    BinOp::Div => format!("if(ifNull({y} = 0, 0), NULL, {x} / {y})"),
                    _ => format!("({x} {} {y})", op.as_str()),
                };
                number_text(&r)
            }
            Expr::Unary(UnOp::Neg, x) => {
                let v = self.value(x, env, cols)?;
                number_text(&format!("(-toFloat64OrNull(materialize({v})))"))
            }
            Expr::Call(c) => return unsupported(format!("{}() in an expression", c.name)),
            _ => return unsupported("this expression"),
        })
    }

    /// An expression as a condition (null is false, as `if()` and `test()` read it).
    fn truth(&mut self, e: &Expr, env: &Env, cols: &[String]) -> Result<String, String> {
        Ok(match e {
            Expr::Call(c) if matches!(c.name.as_str(), "regex" | "in" | "test") => self.filter_call(c, env, cols)?,
            Expr::Binary(op, a, b)
                if matches!(op, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) =>
            {
                format!("ifNull({}, 0)", self.compare(*op, a, b, env, cols)?)
            }
            Expr::Unary(UnOp::Not, x) => {
                let v = self.value(x, env, cols)?;
                format!("(isNotNull({v}) AND NOT {})", truthy(&v))
            }
            other => {
                let v = self.value(other, env, cols)?;
                format!("ifNull({}, 0)", truthy(&v))
            }
        })
    }

    /// A comparison as cqlhunt makes it: numbers when both sides read as numbers, else text
    /// (`==`, `!=`); `<` and the others only between numbers. `NULL` when a side is null.
    fn compare(&mut self, op: BinOp, a: &Expr, b: &Expr, env: &Env, cols: &[String]) -> Result<String, String> {
        let (x, y) = (self.value(a, env, cols)?, self.value(b, env, cols)?);
        let (nx, ny) = (format!("toFloat64OrNull({x})"), format!("toFloat64OrNull({y})"));
        Ok(match op {
            BinOp::Eq | BinOp::Ne => {
                let eq = format!("if(isNotNull({nx}) AND isNotNull({ny}), {nx} = {ny}, {x} = {y})");
                let eq = if op == BinOp::Eq { eq } else { format!("NOT {eq}") };
                format!("if(isNull({x}) OR isNull({y}), NULL, {eq})")
            }
            _ => format!("({nx} {} {ny})", op.as_str()),
        })
    }
}

/// A number as the text cqlhunt writes for it (`format_num`): a whole number below 1e15 without
/// a decimal point; others as ClickHouse writes a Float64 (with an exponent from 1e15 and below
/// 1e-5, where cqlhunt writes every digit). `NULL` when it is null or not finite.
fn number_text(n: &str) -> String {
    // The number is named once, in a lambda: the text of nested arithmetic stays linear in size.
    let z = "__n";
    format!(
        "arrayMap({z} -> if(isNull({z}) OR NOT isFinite(assumeNotNull({z})), NULL, if(ifNull(floor({z}) = {z} AND abs({z}) < 1e15, 0), toString(toInt64({z})), toString({z}))), [{n}])[1]"
    )
}

/// Whether an expression's value is a number (cqlhunt writes it as one).
fn is_number(e: &Expr) -> bool {
    matches!(e, Expr::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, ..) | Expr::Unary(UnOp::Neg, _))
}

/// A value as cqlhunt reads it as a truth (`Value::truthy`): `"true"`, or a non-zero number.
fn truthy(v: &str) -> String {
    format!("({v} = 'true' OR ifNull(toFloat64OrNull({v}) != 0, 0))")
}

/// A matcher on a value's SQL, never `NULL`.
fn matcher(v: &str, m: &Matcher) -> Result<String, String> {
    Ok(match m {
        Matcher::Exists => format!("isNotNull({v})"),
        Matcher::Exact(x) => format!("ifNull({v} = {}, 0)", lit(x)),
        Matcher::Glob(g) => {
            let like: Vec<String> =
                g.parts.iter().map(|p| p.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")).collect();
            let pattern = lit(&like.join("%"));
            if g.ignore_case {
                format!("ifNull(lowerUTF8({v}) LIKE {pattern}, 0)")
            } else if g.parts.len() == 1 {
                format!("ifNull({v} = {}, 0)", lit(&g.parts[0]))
            } else {
                format!("ifNull({v} LIKE {pattern}, 0)")
            }
        }
        Matcher::Regex(rx) if !rx.names.is_empty() => {
            return unsupported(format!("the named groups of {} here (they extract fields)", rx.source))
        }
        Matcher::Regex(rx) => format!("ifNull(match({v}, {}), 0)", lit(&re2(rx.compiled())?)),
    })
}

/// For each named group of a pattern: the pattern with that group its only capturing one (what
/// ClickHouse's `extract()` gives back). A group that can match the empty string has none:
/// `extract()` answers `''` for it both when it matched nothing and when it took no part in the
/// match, and cqlhunt sets the field only in the first case.
fn extraction(pattern: &str, names: &[String]) -> Result<Vec<(String, String)>, String> {
    use regex_syntax::ast::{self, Ast, GroupKind};
    fn only(a: &Ast, name: &str) -> Ast {
        match a {
            Ast::Group(g) => {
                let kind = match &g.kind {
                    GroupKind::CaptureName { name: n, .. } if n.name == name => GroupKind::CaptureIndex(1),
                    GroupKind::CaptureName { .. } | GroupKind::CaptureIndex(_) => {
                        GroupKind::NonCapturing(ast::Flags { span: g.span, items: Vec::new() })
                    }
                    k @ GroupKind::NonCapturing(_) => k.clone(),
                };
                Ast::group(ast::Group { span: g.span, kind, ast: Box::new(only(&g.ast, name)) })
            }
            Ast::Repetition(r) => Ast::repetition(ast::Repetition {
                span: r.span,
                op: r.op.clone(),
                greedy: r.greedy,
                ast: Box::new(only(&r.ast, name)),
            }),
            Ast::Alternation(x) => Ast::alternation(ast::Alternation {
                span: x.span,
                asts: x.asts.iter().map(|a| only(a, name)).collect(),
            }),
            Ast::Concat(x) => {
                Ast::concat(ast::Concat { span: x.span, asts: x.asts.iter().map(|a| only(a, name)).collect() })
            }
            other => other.clone(),
        }
    }
    fn group_min_len(h: &regex_syntax::hir::Hir) -> Option<usize> {
        use regex_syntax::hir::HirKind;
        match h.kind() {
            HirKind::Capture(c) => Some(c.sub.properties().minimum_len().unwrap_or(usize::MAX)),
            HirKind::Repetition(r) => group_min_len(&r.sub),
            HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().find_map(group_min_len),
            _ => None,
        }
    }
    let parsed = ast::parse::Parser::new().parse(pattern).map_err(|e| format!("/{pattern}/: {e}"))?;
    let mut out = Vec::new();
    for name in names {
        let mut text = String::new();
        ast::print::Printer::new().print(&only(&parsed, name), &mut text).map_err(|e| e.to_string())?;
        let hir = regex_syntax::ParserBuilder::new().build().parse(&text).map_err(|e| format!("/{text}/: {e}"))?;
        if group_min_len(&hir).is_none_or(|n| n == 0) {
            return unsupported(format!(
                "the named group `{name}` of /{pattern}/: it can match the empty string, which ClickHouse's extract() does not tell from no part in the match"
            ));
        }
        out.push((name.clone(), text));
    }
    Ok(out)
}

/// `replace()`'s replacement as Java writes it (`$1` a group, `\x` the character x), as
/// ClickHouse's `replaceRegexpAll` reads one (`\1`, `\\`): groups 0 to 9 only.
fn ch_replacement(java: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push_str("\\\\"),
                Some(x) => out.push(x),
                None => out.push_str("\\\\"),
            },
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    n.push(d);
                    chars.next();
                }
                if n.len() > 1 {
                    return unsupported(format!("replace() with the group reference ${n} (ClickHouse has \\0 to \\9)"));
                }
                out.push('\\');
                out.push_str(&n);
            }
            '$' if chars.peek() == Some(&'{') => return unsupported("replace() with a named group reference"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A pattern in the `regex` crate's syntax, in RE2's (which has no lookaround, and spells a
/// named group `(?P<name>…)`).
fn re2(p: &str) -> Result<String, String> {
    if p.contains("(?=") || p.contains("(?!") {
        return unsupported(format!("the lookahead in /{p}/ (RE2 has none)"));
    }
    // In a group: ClickHouse before 20.x checks the literals it reads from a pattern
    // case-sensitively when the pattern starts with a flag (`(?i)^(cmd)\.exe$` misses
    // `CMD.EXE`), and skips that check for a pattern that starts with a group.
    Ok(format!("(?:{})", p.replace("(?<", "(?P<")))
}

/// A string literal as [`lit`] writes it (never `NULL`).
fn is_literal(v: &str) -> bool {
    if v.len() < 2 || !v.starts_with('\'') || !v.ends_with('\'') {
        return false;
    }
    // One literal, not `'a', 'b'`: every quote inside is escaped, and so is none at the end.
    let mut escaped = false;
    for c in v[1..v.len() - 1].chars() {
        if !escaped && c == '\'' {
            return false;
        }
        escaped = !escaped && c == '\\';
    }
    !escaped
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.1}")
    } else {
        format!("{n:e}")
    }
}

fn join(v: Vec<String>, op: &str) -> String {
    match v.len() {
        0 => if op == "AND" { "1" } else { "0" }.to_string(),
        1 => v.into_iter().next().unwrap_or_default(),
        _ => format!("({})", v.join(&format!(" {op} "))),
    }
}

fn all(cols: &[String]) -> String {
    if cols.is_empty() {
        return "*".to_string();
    }
    cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
}

fn where_(rel: Rel, cond: &str) -> Rel {
    Rel { sql: format!("SELECT {} FROM ({}) WHERE {cond}", all(&rel.cols), rel.sql), cols: rel.cols }
}

/// Set fields to values (SQL over `rel`'s columns), new ones after the others.
fn assign(rel: Rel, sets: &[(String, String)]) -> Rel {
    // The values are computed under fresh names first: a value named as one of its own
    // inputs would be read by ClickHouse in place of the column.
    let mut inner = vec![all(&rel.cols)];
    for (i, (_, v)) in sets.iter().enumerate() {
        inner.push(format!("{v} AS {}", ident(&format!("__v{i}"))));
    }
    let mut cols = rel.cols.clone();
    for (n, _) in sets {
        if !cols.contains(n) {
            cols.push(n.clone());
        }
    }
    let list: Vec<String> = cols
        .iter()
        .map(|c| match sets.iter().rposition(|(n, _)| n == c) {
            Some(i) => format!("{} AS {}", ident(&format!("__v{i}")), ident(&format!("{c}__a"))),
            None => format!("{} AS {}", ident(c), ident(&format!("{c}__a"))),
        })
        .collect();
    let renamed: Vec<String> = cols.iter().map(|c| format!("{} AS {}", ident(&format!("{c}__a")), ident(c))).collect();
    let sql = format!(
        "SELECT {} FROM (SELECT {} FROM (SELECT {} FROM ({})))",
        renamed.join(", "),
        list.join(", "),
        inner.join(", "),
        rel.sql
    );
    Rel { sql, cols }
}

/// Keep the named fields, in that order (one the rows lack reads as missing).
fn project(rel: Rel, fields: &[String]) -> Rel {
    let list: Vec<String> = fields
        .iter()
        .map(|f| match rel.cols.contains(f) {
            true => ident(f),
            false => format!("CAST(NULL AS Nullable(String)) AS {}", ident(f)),
        })
        .collect();
    let list = if list.is_empty() { "*".to_string() } else { list.join(", ") };
    Rel { sql: format!("SELECT {list} FROM ({})", rel.sql), cols: fields.to_vec() }
}

/// The functions that write one value ([`Tx::call_value`]): as steps and in expressions.
const VALUE_FUNCTIONS: &[&str] = &["lower", "upper", "length", "if", "format", "concat", "coalesce", "formatTime"];

/// Steps that write fields: the value functions, `default` and `replace`.
fn is_transform(c: &Call) -> bool {
    VALUE_FUNCTIONS.contains(&c.name.as_str()) || matches!(c.name.as_str(), "default" | "replace")
}

fn text(c: &Call, name: &str) -> Option<String> {
    c.arg(name).and_then(Expr::text).map(str::to_string)
}

fn names(c: &Call, name: &str) -> Vec<String> {
    c.arg(name).map(Expr::names).unwrap_or_default()
}

fn limit(c: &Call, default: usize) -> Result<usize, String> {
    match text(c, "limit") {
        None => Ok(default),
        Some(l) if l == "max" => Ok(200_000),
        Some(l) => l.parse().map_err(|_| format!("{}(): limit={l} is not a number", c.name)),
    }
}

/// [`to_clickhouse`] of a query's text: parsed, checked and compiled as `run` does (the first
/// error as `CODE: message`).
pub fn translate(text: &str, lenient: bool, table: &str) -> Result<Sql, String> {
    let opts = crate::plan::PlanOptions { lenient, require_params: true, ..Default::default() };
    to_clickhouse(&crate::plan::compile::compile_text(text, &opts)?, table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_told_from_other_sql() {
        assert!(is_literal(&lit("a'b\\c")));
        assert!(is_literal("''"));
        assert!(!is_literal("'a', 'b'"));
        assert!(!is_literal("`f`"));
        assert!(!is_literal("if(x, 'a', 'b')"));
        assert!(!is_literal("'a\\'"));
    }

    #[test]
    fn java_replacements_become_clickhouse_ones() {
        assert_eq!(ch_replacement("$1-$0").as_deref(), Ok("\\1-\\0"));
        assert_eq!(ch_replacement("\\$1 \\\\ x\\").as_deref(), Ok("$1 \\\\ x\\\\"));
        assert!(ch_replacement("$12").is_err());
        assert!(ch_replacement("${name}").is_err());
    }

    #[test]
    fn a_literal_assignment_reads_no_field() {
        let sql = translate("x := \"y\" | groupBy(x)", false, "t").expect("translates");
        assert!(sql.inputs.is_empty(), "{:?}", sql.inputs);
        let sql = translate("x := lower(y) | groupBy(x)", false, "t").expect("translates");
        assert_eq!(sql.inputs, ["x", "y"]);
    }

    #[test]
    fn what_has_no_faithful_translation_says_so() {
        for (q, why) in [
            ("\"mimikatz\"", "free-text search"),
            ("head(5)", "head()"),
            ("groupBy(a, limit=10)", "groupBy(limit="),
            ("a = /x(?=y)/", "lookahead"),
            ("regex(\"(?<n>[a-z]*)\", field=a)", "the named group `n`"),
            ("a = /(?<n>x)/ or b = 1", "named groups"),
            ("format(\"%d\", field=a)", "conversions other than %s"),
            ("drop(a)", "a result without fields"),
        ] {
            let e = translate(q, false, "t").expect_err(q);
            assert!(e.starts_with("no ClickHouse translation for") && e.contains(why), "{q}: {e}");
        }
    }
}
