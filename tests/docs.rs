//! docs/diagnostics.md lists every diagnostic code with its meaning.

use cqlhunt::diag::Code;

#[test]
fn every_code_is_documented() {
    let doc = include_str!("../docs/diagnostics.md");
    for c in Code::ALL {
        let row = format!("| {} | `{}` |", c.id(), c.slug());
        assert!(doc.contains(&row), "docs/diagnostics.md lacks `{row}`");
    }
}
