//! The layering `src/lib.rs` declares is what the code does: no `crate::` path in `src/`
//! points at a module of a higher layer, and no two top-level modules use each other
//! (directly or through others). Test code (`#[cfg(test)]` modules, `tests.rs` files and
//! `tests/` folders under `src/`, `test_support.rs`) may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layer of every top-level module, from the numbered list under `# Layers` in the
/// crate docs: `N. Title: \`a\`, \`b\`.` (a line may wrap).
fn declared_layers(lib: &str) -> BTreeMap<String, usize> {
    let docs: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .skip_while(|l| *l != "# Layers")
        .collect();
    let mut layers = BTreeMap::new();
    let mut current = None;
    for line in docs {
        if let Some((number, _)) = line.split_once(". ") {
            if let Ok(n) = number.parse::<usize>() {
                current = Some(n);
            }
        }
        let Some(layer) = current else { continue };
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            let Some(len) = rest[start + 1..].find('`') else {
                break;
            };
            let name = &rest[start + 1..start + 1 + len];
            if name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                layers.insert(name.to_owned(), layer);
            }
            rest = &rest[start + len + 2..];
        }
    }
    layers
}

/// Every `.rs` file under `dir` that is not test code.
fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "tests" {
                source_files(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && name != "test_support.rs" {
            out.push(path);
        }
    }
}

/// The file's text up to its `#[cfg(test)]` module, without comments.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            let next = lines.peek().map_or("", |l| l.trim());
            if next.starts_with("mod ") || next.starts_with("pub(crate) mod ") {
                break;
            }
        }
        code.push_str(line.split("//").next().unwrap_or(""));
        code.push('\n');
    }
    code
}

/// The top-level modules a piece of code names through `crate::`.
fn used_modules(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // `use crate::{a::b, c}`: the first segment of each entry.
            let end = group.find('}').unwrap_or(group.len());
            for entry in group[..end].split(',') {
                let name = ident(entry.trim());
                if !name.is_empty() {
                    used.insert(name);
                }
            }
        } else {
            let name = ident(after);
            if !name.is_empty() {
                used.insert(name);
            }
        }
        rest = after;
    }
    used
}

/// The top-level module a file under `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let first = first.as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

#[test]
fn no_module_uses_a_higher_layer_and_none_use_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let layers = declared_layers(&lib);
    assert!(
        layers.len() > 10 && layers.contains_key("http") && layers.contains_key("arbiter"),
        "the # Layers list in src/lib.rs could not be read: {layers:?}"
    );
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();
    for file in &files {
        let me = module_of(&src, file);
        if me == "lib" || me == "main" {
            continue;
        }
        let my_layer = *layers
            .get(&me)
            .unwrap_or_else(|| panic!("module `{me}` is in no layer of src/lib.rs"));
        let code = code_of(&fs::read_to_string(file).expect("read source"));
        for used in used_modules(&code) {
            if used == me {
                continue;
            }
            let Some(&layer) = layers.get(&used) else {
                panic!("{}: `crate::{used}` is in no layer", file.display());
            };
            if layer > my_layer {
                upward.push(format!(
                    "{} (layer {my_layer}) uses crate::{used} (layer {layer})",
                    file.display()
                ));
            }
            graph.entry(me.clone()).or_default().insert(used);
        }
    }
    assert!(
        upward.is_empty(),
        "imports up a layer:\n{}",
        upward.join("\n")
    );
    // Within a layer, a cycle: a module that reaches itself.
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = graph[start].iter().collect();
        while let Some(next) = todo.pop() {
            assert!(next != start, "`{start}` reaches itself through {seen:?}");
            if seen.insert(next.clone()) {
                todo.extend(graph.get(next).into_iter().flatten());
            }
        }
    }
}

#[test]
fn the_checks_see_what_they_look_for() {
    let code = code_of(
        "use crate::http::Limits; // crate::arbiter in a comment\n\
         use crate::{peer::Peer, exit};\n\
         fn f() { crate::decimal::x(); }\n\
         #[cfg(test)]\nmod tests { use crate::arbiter; }\n",
    );
    let used: Vec<String> = used_modules(&code).into_iter().collect();
    assert_eq!(used, ["decimal", "exit", "http", "peer"]);
    let layers = declared_layers(
        "//! # Layers\n//! 1. Low: `a`,\n//!    `b`.\n//! 2. High: `c`.\nfn x() {}\n",
    );
    assert_eq!(
        layers.into_iter().collect::<Vec<_>>(),
        [("a".into(), 1), ("b".into(), 1), ("c".into(), 2)]
    );
}
