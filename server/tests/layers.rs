//! The server's layers only point down (docs/architecture.md): main → app →
//! endpoints (http, ui, live, ingest) → state → service → store. This test
//! reads the sources and fails when a file of a lower layer names a module
//! above it, or when source files import each other in a cycle.

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

/// Source text without comments and without the contents of string and
/// character literals: what is left names modules only in code.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && matches!(next, Some('"' | '#'))
            && !chars[..i].last().is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..." or r#"..."#.
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            i += 2 + hashes;
            while i < chars.len()
                && !(chars[i] == '"' && chars[i + 1..].iter().take(hashes).filter(|c| **c == '#').count() == hashes)
            {
                i += 1;
            }
            i += 1 + hashes;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && (chars.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A character literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The module a source file holds, from its path below `src/`:
/// `store/sqlite/flags.rs` → `store::sqlite::flags`, `store/mod.rs` →
/// `store`, `lib.rs` (and `main.rs`) → the crate root (empty).
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.strip_suffix(".rs").unwrap_or(&file);
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_owned());
    }
    parts
}

/// Every path a source names from `crate::` or `super::`, as absolute
/// segments (`super` resolved against `module`, the file's module), with
/// `{a, b::c}` groups expanded into one path per member.
fn named_paths(source: &str, module: &[String]) -> Vec<Vec<String>> {
    fn ident(s: &str) -> &str {
        let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
        &s[..end]
    }
    fn skip_space(s: &str, i: usize) -> usize {
        s.len() - s[i..].trim_start().len()
    }
    /// Parses `a::b::{c, d::e as f}` at the start of `s` (after a `::`),
    /// pushing `prefix` + each full path; returns the bytes consumed.
    fn tree(s: &str, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
        let mut path = prefix.to_vec();
        let mut i = skip_space(s, 0);
        loop {
            if s[i..].starts_with('{') {
                i += 1;
                loop {
                    i = skip_space(s, i);
                    if i >= s.len() || s[i..].starts_with('}') {
                        return (i + 1).min(s.len());
                    }
                    i += tree(&s[i..], &path, out);
                    i = skip_space(s, i);
                    if ident(&s[i..]) == "as" {
                        i = skip_space(s, i + 2);
                        i += ident(&s[i..]).len();
                        i = skip_space(s, i);
                    }
                    match s[i..].chars().next() {
                        Some(',') => i += 1,
                        Some('}') => return i + 1,
                        _ => return i,
                    }
                }
            }
            let name = ident(&s[i..]);
            if name.is_empty() {
                out.push(path);
                return i;
            }
            i += name.len();
            if name != "self" {
                path.push(name.to_owned());
            }
            if s[i..].starts_with("::") {
                i += 2;
            } else {
                out.push(path);
                return i;
            }
        }
    }
    let mut out = Vec::new();
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < source.len() {
        let rest = &source[i..];
        let before = i.checked_sub(1).map(|j| bytes[j] as char);
        let starts_path = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if starts_path && rest.starts_with("crate::") {
            i += "crate::".len();
            i += tree(&source[i..], &[], &mut out);
        } else if starts_path && rest.starts_with("super::") {
            let mut base = module.to_vec();
            while source[i..].starts_with("super::") {
                base.pop();
                i += "super::".len();
            }
            i += tree(&source[i..], &base, &mut out);
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// The module-level import graph: for each module, the modules it names.
/// A path counts for the longest module that prefixes it; naming one's own
/// ancestor (a child using its parent's facade) is no edge.
fn import_graph(files: &[(Vec<String>, String)]) -> Vec<Vec<usize>> {
    let index: std::collections::HashMap<&[String], usize> =
        files.iter().enumerate().map(|(i, (m, _))| (m.as_slice(), i)).collect();
    files
        .iter()
        .map(|(module, source)| {
            let mut targets: Vec<usize> = named_paths(&code_only(source), module)
                .into_iter()
                .filter_map(|path| (0..=path.len()).rev().find_map(|n| index.get(&path[..n]).copied()))
                .filter(|&t| !module.starts_with(&files[t].0))
                .collect();
            targets.sort_unstable();
            targets.dedup();
            targets
        })
        .collect()
}

/// One cycle of the graph per back edge met in a depth-first search, as node lists.
fn cycles(graph: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(n: usize, graph: &[Vec<usize>], marks: &mut [Mark], stack: &mut Vec<usize>, found: &mut Vec<Vec<usize>>) {
        marks[n] = Mark::Open;
        stack.push(n);
        for &t in &graph[n] {
            match marks[t] {
                Mark::New => visit(t, graph, marks, stack, found),
                Mark::Open => {
                    let from = stack.iter().position(|&s| s == t).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    // From its first file, so that a cycle reads the same however it was met.
                    let first = cycle.iter().enumerate().min_by_key(|(_, n)| **n).map_or(0, |(i, _)| i);
                    cycle.rotate_left(first);
                    found.push(cycle);
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[n] = Mark::Done;
    }
    let mut marks = vec![Mark::New; graph.len()];
    let mut found = Vec::new();
    for n in 0..graph.len() {
        if marks[n] == Mark::New {
            visit(n, graph, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

/// The cycles among `files` (module, source), each as its files joined by arrows.
fn import_cycles(files: &[(Vec<String>, String)], names: &[String]) -> Vec<String> {
    cycles(&import_graph(files))
        .into_iter()
        .map(|c| c.iter().chain(c.first()).map(|&n| names[n].as_str()).collect::<Vec<_>>().join(" → "))
        .collect()
}

#[test]
fn source_files_import_each_other_in_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    paths.sort();
    // main.rs is a crate of its own (it names the library by its name).
    paths.retain(|p| p != &root.join("main.rs"));
    let names: Vec<String> = paths.iter().map(|p| p.strip_prefix(&root).unwrap().display().to_string()).collect();
    let files: Vec<(Vec<String>, String)> = paths
        .iter()
        .map(|p| (module_of(p.strip_prefix(&root).unwrap()), std::fs::read_to_string(p).unwrap()))
        .collect();
    assert!(files.len() > 50, "only {} source files found", files.len());
    let found = import_cycles(&files, &names);
    assert!(found.is_empty(), "source files import each other in a cycle:\n{}", found.join("\n"));
}

#[test]
fn the_cycle_finder_sees_siblings_and_ignores_ancestors() {
    let file = |module: &str, source: &str| {
        (module.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>(), source.to_owned())
    };
    let names: Vec<String> = ["lib.rs", "a/mod.rs", "a/b.rs", "a/c.rs", "d.rs"].map(String::from).to_vec();
    // Children use their parent's facade, the parent uses a child: no cycle.
    let fine = [
        file("", "mod a; mod d;"),
        file("a", "pub use b::X; use crate::a::c::Y;"),
        file("a::b", "use super::Z; use crate::{a::W, d};"),
        file("a::c", "use super::super::d::V; // crate::a::b::X\nconst S: &str = \"crate::a::b\";"),
        file("d", "fn f() -> char { '\"' }"),
    ];
    assert_eq!(import_cycles(&fine, &names), Vec::<String>::new());
    // b names c through a group, c names b through super: a cycle of siblings.
    let mut cycle = fine.clone();
    cycle[2] = file("a::b", "use crate::{a::{c::Y, W}, d};");
    cycle[3] = file("a::c", "fn f() { super::b::g() }");
    assert_eq!(import_cycles(&cycle, &names), ["a/b.rs → a/c.rs → a/b.rs"]);
}

#[test]
fn the_path_scanner_expands_groups_and_super() {
    let module: Vec<String> = vec!["store".into(), "sqlite".into(), "flags".into()];
    let paths = named_paths("use crate::store::{self, a::{B, c::D}};\nuse super::super::E;", &module);
    let shown: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(shown, ["store", "store::a::B", "store::a::c::D", "store::E"]);
}
