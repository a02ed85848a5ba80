//! The documentation against the code: every setting the README, the connector's import guide
//! and the Functions app's README name exists, every setting the code reads is in the README, and
//! the sample files parse.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const PREFIX: &str = "PDF_SEAL_";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `PDF_SEAL_*` names in `text`; with `quoted`, only those written as a whole string
/// literal, which is how the code names the variables it reads.
fn variables(text: &str, quoted: bool) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (start, _) in text.match_indices(PREFIX) {
        let rest = &text[start + PREFIX.len()..];
        let length = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        let whole = length > 0 && !rest[..length].ends_with('_');
        let literal = start > 0 && text[..start].ends_with('"') && rest[length..].starts_with('"');
        if whole && (literal || !quoted) {
            found.insert(format!("{PREFIX}{}", &rest[..length]));
        }
    }
    found
}

fn rust_sources(dir: &Path, into: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_sources(&path, into);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            into.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn the_readme_documents_exactly_the_settings_the_code_reads() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut code = String::new();
    rust_sources(&root().join("src"), &mut code);

    let documented = variables(&readme, false);
    let read = variables(&code, true);

    let undocumented: Vec<_> = read.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&read).collect();
    assert!(
        undocumented.is_empty(),
        "read but not in the README: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "in the README but never read: {unknown:?}"
    );
    assert!(read.len() > 30, "too few settings found: {read:?}");
}

/// The `PDF_SEAL_*` names that the guide at `path` (from the project root) names; panics
/// naming those the code never reads.
fn settings_named_in(path: &str) -> BTreeSet<String> {
    let guide = std::fs::read_to_string(root().join(path)).unwrap();
    let mut code = String::new();
    rust_sources(&root().join("src"), &mut code);

    let named = variables(&guide, false);
    let read = variables(&code, true);

    let unknown: Vec<_> = named.difference(&read).collect();
    assert!(
        unknown.is_empty(),
        "{path} names settings pdf-seal never reads: {unknown:?}"
    );
    named
}

#[test]
fn the_connector_guide_names_only_settings_the_code_reads() {
    let named = settings_named_in("connector/README.md");

    assert!(named.len() >= 6, "too few settings found: {named:?}");
}

#[test]
fn the_functions_readme_names_only_settings_the_code_reads() {
    let named = settings_named_in("functions/README.md");

    assert!(named.contains("PDF_SEAL_AUTH"), "{named:?}");
}

#[test]
fn the_api_management_sample_policy_is_well_formed_xml() {
    let policy = root().join("infra/apim/pdf-seal-policy.xml");
    let check = "import sys, xml.etree.ElementTree as tree; \
                 root = tree.parse(sys.argv[1]).getroot(); \
                 assert root.tag == 'policies', root.tag; \
                 names = {element.tag for element in root.iter()}; \
                 missing = {'validate-jwt', 'rate-limit-by-key', 'ip-filter'} - names; \
                 assert not missing, missing";

    let output = Command::new("python3")
        .args(["-c", check])
        .arg(&policy)
        .output()
        .expect("python3 runs");

    assert!(
        output.status.success(),
        "{}: {}",
        policy.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}
