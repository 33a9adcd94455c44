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

/// docs/coverage.md puts every Sigma rule of the corpus beside the pack (with the CQL it was
/// evaluated with) and names every rule of the pack.
#[test]
fn coverage_doc_names_every_sigma_rule_and_every_pack_rule() {
    let doc = include_str!("../docs/coverage.md");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sigma = std::fs::read_dir(root.join("../shared/corpus/sigma-rules")).expect("sigma-rules");
    let mut n = 0;
    for e in sigma.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".yml") {
            n += 1;
            assert!(doc.matches(stem).count() >= 2, "docs/coverage.md does not compare `{stem}` (table and appendix)");
        }
    }
    assert_eq!(n, 28);
    for e in std::fs::read_dir(root.join("rules/t1505/alerts")).expect("alerts").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let id = name.trim_end_matches(".yaml");
        assert!(doc.contains(id), "docs/coverage.md does not mention rule `{id}`");
    }
}
