//! `../shared/corpus/MANIFEST.tsv`: which files the corpus holds and what is expected of each.

use std::path::PathBuf;

use super::fixture::shared_dir;

pub struct Row {
    pub file: String,
    /// The `expect` column: `seal`, `refuse`, `seal-or-refuse`, `seal-new-only` or
    /// `seal-with-password:PW`.
    pub expect: String,
    /// Whether the `encrypt` column names an encryption.
    pub encrypted: bool,
}

pub fn corpus_dir() -> PathBuf {
    shared_dir().join("corpus")
}

/// The rows of MANIFEST.tsv, without the trust anchor; panics when the manifest cannot be read.
pub fn rows() -> Vec<Row> {
    let path = corpus_dir().join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read {}: {err} (the tests need ../shared)",
            path.display()
        )
    });
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("MANIFEST.tsv has no '{name}' column"))
    };
    let (file, expect, encrypt) = (column("file"), column("expect"), column("encrypt"));

    let cell = |cells: &[&str], at: usize| cells.get(at).copied().unwrap_or_default().to_owned();
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .filter(|cells| cell(cells, expect) != "anchor")
        .map(|cells| Row {
            file: cell(&cells, file),
            expect: cell(&cells, expect),
            encrypted: !cell(&cells, encrypt).is_empty(),
        })
        .collect()
}
