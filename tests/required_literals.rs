//! The literals `plan::required` reads from a pattern are a necessary condition: whatever the
//! pattern, a value it matches holds one of them (but for values with `ſ` or the Kelvin sign,
//! which Unicode case folding reads as ASCII letters). Checked on generated patterns with
//! values generated to match them (proptest), so that a probe that rules patterns out by their
//! literals never drops a line the pattern would take.

use cqlhunt::plan::required::{required, Literals};
use proptest::prelude::*;

/// A pattern, to render as a regex and to draw matching values from.
#[derive(Debug, Clone)]
enum Node {
    Lit(&'static str),
    Class(&'static [char]),
    Any,
    Word,
    Boundary,
    Start,
    End,
    Opt(Box<Node>),
    Star(Box<Node>),
    Plus(Box<Node>),
    Rep(Box<Node>, u32, u32),
    Alt(Vec<Node>),
    Cat(Vec<Node>),
    Fold(Box<Node>),
}

impl Node {
    fn regex(&self) -> String {
        match self {
            Node::Lit(s) => regex::escape(s),
            Node::Class(cs) => format!("[{}]", cs.iter().map(|c| regex::escape(&c.to_string())).collect::<String>()),
            Node::Any => ".".into(),
            Node::Word => "\\w".into(),
            Node::Boundary => "\\b".into(),
            Node::Start => "^".into(),
            Node::End => "$".into(),
            Node::Opt(n) => format!("(?:{})?", n.regex()),
            Node::Star(n) => format!("(?:{})*", n.regex()),
            Node::Plus(n) => format!("(?:{})+", n.regex()),
            Node::Rep(n, lo, hi) => format!("(?:{}){{{lo},{hi}}}", n.regex()),
            Node::Alt(v) => format!("(?:{})", v.iter().map(Node::regex).collect::<Vec<_>>().join("|")),
            Node::Cat(v) => v.iter().map(Node::regex).collect(),
            Node::Fold(n) => format!("(?i:{})", n.regex()),
        }
    }

    /// A value drawn to match (looks may make it fail: the caller checks).
    fn draw(&self, rng: &mut u64, fold: bool, out: &mut String) {
        let mut next = |n: u64| {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng % n
        };
        match self {
            Node::Lit(s) => {
                for c in s.chars() {
                    // Under (?i), either case, and the two non-ASCII folds of s and k.
                    let c = match (fold, next(4)) {
                        (true, 0) => c.to_ascii_uppercase(),
                        (true, 1) if c == 's' => '\u{17f}',
                        (true, 1) if c == 'k' => '\u{212a}',
                        _ => c,
                    };
                    out.push(c);
                }
            }
            Node::Class(cs) => out.push(cs[next(cs.len() as u64) as usize]),
            Node::Any => out.push(['x', ' ', '\u{e9}', 'a'][next(4) as usize]),
            Node::Word => out.push(['w', '1', '_', '\u{e9}'][next(4) as usize]),
            Node::Boundary | Node::Start | Node::End => {}
            Node::Opt(n) => {
                if next(2) == 0 {
                    n.draw(rng, fold, out)
                }
            }
            Node::Star(n) => {
                for _ in 0..next(3) {
                    n.draw(rng, fold, out)
                }
            }
            Node::Plus(n) => {
                for _ in 0..1 + next(2) {
                    n.draw(rng, fold, out)
                }
            }
            Node::Rep(n, lo, hi) => {
                for _ in 0..*lo as u64 + next((hi - lo + 1) as u64) {
                    n.draw(rng, fold, out)
                }
            }
            Node::Alt(v) => {
                let i = next(v.len() as u64) as usize;
                v[i].draw(rng, fold, out)
            }
            Node::Cat(v) => {
                for n in v {
                    n.draw(rng, fold, out)
                }
            }
            Node::Fold(n) => n.draw(rng, true, out),
        }
    }
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        4 => prop_oneof![Just("ab"), Just("cab"), Just("ask"), Just("exe"), Just("."), Just("k"), Just("s"), Just("x y")]
            .prop_map(Node::Lit),
        1 => prop_oneof![Just(&['a', 'b'][..]), Just(&['C', 'c'][..]), Just(&['s'][..])].prop_map(Node::Class),
        1 => prop_oneof![Just(Node::Any), Just(Node::Word), Just(Node::Boundary), Just(Node::Start), Just(Node::End)],
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..5).prop_map(Node::Cat),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Node::Alt),
            inner.clone().prop_map(|n| Node::Opt(Box::new(n))),
            inner.clone().prop_map(|n| Node::Star(Box::new(n))),
            inner.clone().prop_map(|n| Node::Plus(Box::new(n))),
            (inner.clone(), 0u32..3, 0u32..2).prop_map(|(n, lo, extra)| Node::Rep(Box::new(n), lo, lo + extra)),
            inner.prop_map(|n| Node::Fold(Box::new(n))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, .. ProptestConfig::default() })]

    #[test]
    fn a_value_the_pattern_matches_holds_a_literal(n in node(), seed in 1u64.., prefix in "[a-c ]{0,3}", suffix in "[a-c ]{0,3}") {
        let p = n.regex();
        let Ok(re) = regex::Regex::new(&p) else { return Ok(()) };
        let Some(lits) = Literals::new(&[required(&p)]) else { return Ok(()) };
        let mut rng = seed;
        for _ in 0..16 {
            let mut v = prefix.clone();
            n.draw(&mut rng, false, &mut v);
            v.push_str(&suffix);
            if re.is_match(&v) && !v.contains(['\u{17f}', '\u{212a}']) {
                prop_assert!(!lits.rules_out(0, lits.present(v.as_bytes())), "/{}/ matches {:?}, literals {:?}", p, v, required(&p));
            }
        }
    }
}
