//! The layering, checked: `routes → app → (store, cache, live, writer) → domain`, read from
//! the `crate::…` paths each module's files name. No circle between top-level modules,
//! the core names no HTTP framework, template engine or `AppState`, and the two route
//! families (`routes/html`, `routes/api`) do not import each other.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`.
    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                found.extend(files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
        found
    }

    /// The top-level module a file of `src/` belongs to (`src/app/shape.rs` → `app`).
    fn module_of(src: &Path, file: &Path) -> String {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a component").as_os_str().to_string_lossy();
        first.trim_end_matches(".rs").to_owned()
    }

    /// Top-level module → the top-level modules its files name as `crate::NAME`, and the
    /// whole text of its files.
    fn graph() -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, String>) {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
        let (mut edges, mut texts) = (BTreeMap::<String, BTreeSet<String>>::new(), BTreeMap::<String, String>::new());
        for file in files(&src) {
            let module = module_of(&src, &file);
            if matches!(module.as_str(), "bin" | "lib" | "main" | "architecture") {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("read a source file");
            // Names after `crate::` (also inside `use crate::{a, b}` lists).
            let mut named = BTreeSet::new();
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                if let Some(list) = rest.strip_prefix('{') {
                    let list = &list[..list.find('}').unwrap_or(list.len())];
                    named.extend(list.split(',').map(|n| n.trim().split("::").next().unwrap_or("").to_owned()));
                } else {
                    named
                        .insert(rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("").to_owned());
                }
            }
            named.retain(|n| !n.is_empty() && *n != module && *n != "self");
            edges.entry(module.clone()).or_default().extend(named);
            texts.entry(module).or_default().push_str(&text);
        }
        (edges, texts)
    }

    #[test]
    fn no_top_level_module_imports_one_that_imports_it_back() {
        let (edges, _) = graph();
        // Depth-first search for a circle, reporting it.
        fn visit<'a>(
            node: &'a str,
            edges: &'a BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) -> Option<Vec<String>> {
            if let Some(start) = path.iter().position(|n| *n == node) {
                return Some(path[start..].iter().map(|n| (*n).to_owned()).chain([node.to_owned()]).collect());
            }
            if !done.insert(node) {
                return None;
            }
            path.push(node);
            for next in edges.get(node).into_iter().flatten() {
                if let Some(circle) = visit(next, edges, path, done) {
                    return Some(circle);
                }
            }
            path.pop();
            None
        }
        let mut done = BTreeSet::new();
        for node in edges.keys() {
            let circle = visit(node, &edges, &mut Vec::new(), &mut done);
            assert!(circle.is_none(), "an import circle: {}", circle.unwrap_or_default().join(" → "));
        }
    }

    #[test]
    fn the_core_knows_no_http_templates_or_app_state() {
        let (edges, texts) = graph();
        for core in ["app", "announce", "cache", "domain", "live", "store", "writer"] {
            let text = &texts[core];
            for word in ["axum", "maud", "votestream_views", "AppState", "hyper"] {
                assert!(!text.contains(word), "{core} names {word}");
            }
            for above in ["routes", "state", "startup", "web", "guard", "present"] {
                assert!(!edges[core].contains(above), "{core} imports {above}, a layer above it");
            }
        }
    }

    #[test]
    fn the_html_and_api_route_families_do_not_import_each_other() {
        let routes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/routes");
        for (family, other) in [("html", "api"), ("api", "html")] {
            for file in files(&routes.join(family)) {
                let text = std::fs::read_to_string(&file).expect("read a source file");
                // Code only: a comment may point a reader to the other family.
                let code: String =
                    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
                for word in [format!("routes::{other}"), format!("super::{other}"), format!("super::super::{other}")] {
                    assert!(!code.contains(&word), "{} names {word}", file.display());
                }
            }
        }
    }
}
