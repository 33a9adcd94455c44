//! Chunked evaluation for several threads. The stateless front of a pipeline (filters,
//! assignments, transforms, `case`/`match`/union without aggregates inside) runs per chunk;
//! each chunk fills a fresh copy of the first aggregate, and the partial states are merged in
//! input order, so the result is the one a single thread gives (row order included).

use super::{agg::Agg, aggregates, Executor, Node};
use crate::event::Event;

/// What one chunk produced.
pub enum Chunk {
    /// Output rows (the query has no aggregate).
    Rows(Vec<Event>),
    /// The first aggregate's partial state.
    Partial(Box<dyn Agg>),
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chunk::Rows(r) => write!(f, "Rows({})", r.len()),
            Chunk::Partial(_) => f.write_str("Partial"),
        }
    }
}

fn stateless(n: &Node) -> bool {
    match n {
        Node::Agg(_) => false,
        Node::Case(bs) | Node::Union(bs) => !bs.iter().any(|b| aggregates(b)),
        Node::Match(_, arms) => !arms.iter().any(|(_, b)| aggregates(b)),
        Node::Filter(super::filter::Pred::Sub(_), _) => false,
        _ => true,
    }
}

impl Executor {
    /// The index of the first top-level aggregate, or `None` when there is none.
    fn first_agg(&self) -> Option<usize> {
        self.chain.iter().position(|n| matches!(n, Node::Agg(_)))
    }

    /// Whether chunks of this query can run on several threads with the same result.
    pub fn parallel_ok(&self) -> bool {
        let end = self.first_agg().unwrap_or(self.chain.len());
        // Prepass results (joins, tables) live in this executor only.
        self.passes() == 1
            && self.chain[..end].iter().all(stateless)
            && match self.first_agg().map(|i| &self.chain[i]) {
                Some(Node::Agg(a)) => a.mergeable(),
                _ => true,
            }
    }

    /// Run one chunk of events through the front of the pipeline.
    pub fn run_chunk(&mut self, events: Vec<Event>) -> Chunk {
        match self.first_agg() {
            None => {
                let mut out = Vec::new();
                let n = self.chain.len();
                for e in events {
                    self.push_to(n, e, &mut out);
                }
                Chunk::Rows(out)
            }
            Some(i) => {
                let fresh = match &self.chain[i] {
                    Node::Agg(a) => a.fresh(),
                    _ => return Chunk::Rows(Vec::new()),
                };
                let old = std::mem::replace(&mut self.chain[i], Node::Agg(fresh));
                let mut sink = Vec::new();
                for e in events {
                    self.push_to(i + 1, e, &mut sink);
                }
                let Node::Agg(template) = old else { return Chunk::Rows(sink) };
                let next = template.fresh();
                match std::mem::replace(&mut self.chain[i], Node::Agg(next)) {
                    Node::Agg(part) => Chunk::Partial(part),
                    _ => Chunk::Rows(sink),
                }
            }
        }
    }

    /// Take in a chunk's result, in input order: rows pass through to `out`; partial states
    /// merge into this executor's first aggregate.
    pub fn absorb(&mut self, chunk: Chunk, out: &mut Vec<Event>) {
        match chunk {
            Chunk::Rows(rows) => out.extend(rows),
            Chunk::Partial(p) => {
                if let Some(i) = self.first_agg() {
                    if let Node::Agg(a) = &mut self.chain[i] {
                        a.merge(p);
                    }
                }
            }
        }
    }
}
