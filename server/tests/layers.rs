//! The server's layers only point down (docs/architecture.md): main → app →
//! endpoints (http, ui, live, ingest) → state → service → store. This test
//! reads the sources and fails when a file of a lower layer names a module
//! above it.

use std::path::{Path, PathBuf};

/// Modules above the domain: the domain and the storage may not name them.
const ENDPOINTS: &[&str] = &["app", "state", "http", "ui", "live", "ingest", "writer", "serve"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a source names through `crate::`, including the
/// members of `crate::{a, b::c}` groups.
fn crate_modules(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level members of the group: the name at its start and after each top-level `,`.
            let (mut depth, mut start) = (0, true);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && depth == 0 && (c.is_alphabetic() || c == '_') => {
                        out.push(group[j..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    out
}

fn violations(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let dir = root.join(layer);
    if dir.is_dir() {
        rust_files(&dir, &mut files);
    }
    let file = root.join(format!("{layer}.rs"));
    if file.is_file() {
        files.push(file);
    }
    assert!(!files.is_empty(), "no sources found for layer `{layer}`");
    let mut found = Vec::new();
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        // Line comments (docs included) name modules without importing them.
        let source: String = source.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect::<Vec<_>>().join("\n");
        for module in crate_modules(&source) {
            if forbidden.contains(&module.as_str()) {
                found.push(format!("{} names crate::{module}", path.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    found
}

#[test]
fn the_domain_does_not_know_the_endpoints() {
    let found = violations("service", ENDPOINTS);
    assert!(found.is_empty(), "service imports from a layer above it:\n{}", found.join("\n"));
}

#[test]
fn storage_knows_neither_the_domain_nor_the_endpoints() {
    let mut forbidden = ENDPOINTS.to_vec();
    forbidden.push("service");
    let found = violations("store", &forbidden);
    assert!(found.is_empty(), "store imports from a layer above it:\n{}", found.join("\n"));
}

#[test]
fn roles_and_secrets_sit_below_both() {
    let mut forbidden = ENDPOINTS.to_vec();
    forbidden.push("service");
    let found = violations("auth", &forbidden);
    assert!(found.is_empty(), "auth imports from a layer above it:\n{}", found.join("\n"));
}

#[test]
fn the_scanner_sees_grouped_and_nested_imports() {
    let source = "use crate::{http::{ApiError, Role}, store};\nfn f() { crate::ui::x(); }";
    assert_eq!(crate_modules(source), ["http", "store", "ui"]);
}
