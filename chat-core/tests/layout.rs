//! The crate's files import each other downhill: the `use crate::…`, `use super::…` and
//! `crate::…` paths between the files of `src/` form no loop, so each file can be read knowing
//! only the files below it. A module's `pub use` of its own children is its interface, not a
//! dependency, and is followed to the child that defines the name; test modules are left out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Circles known and not yet broken, each as its sorted list of files: none. A new one fails
/// the test; so does one listed here once it is broken.
const KNOWN: &[&[&str]] = &[];

type Module = Vec<String>;

struct Crate {
    /// Module path → the file's source, test modules removed.
    files: BTreeMap<Module, String>,
    /// (module, name) → the child module it re-exports the name from.
    reexports: BTreeMap<(Module, String), Module>,
    /// Module → the children it re-exports whole (`pub use self::child::*`).
    globs: BTreeMap<Module, Vec<Module>>,
}

/// Whether a source defines `name` at its top level (or names it alone on a line, as the
/// argument of a macro that defines it).
fn defines(source: &str, name: &str) -> bool {
    source.lines().any(|line| {
        let t = line.trim();
        let t = t.strip_prefix("pub ").unwrap_or(t);
        let t = t.strip_prefix("pub(crate) ").unwrap_or(t);
        let t = t.strip_prefix("pub(super) ").unwrap_or(t);
        let t = t.strip_prefix("async ").unwrap_or(t);
        t == name
            || [
                "fn ",
                "struct ",
                "enum ",
                "trait ",
                "type ",
                "const ",
                "static ",
                "mod ",
                "macro_rules! ",
            ]
            .iter()
            .any(|kw| {
                t.strip_prefix(kw).is_some_and(|r| {
                    r.strip_prefix(name).is_some_and(|after| {
                        !after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                    })
                })
            })
    })
}

fn collect(dir: &Path, root: &Path, out: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, root, out);
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".rs") || name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap().with_extension("");
        let mut module: Module = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
            module.pop();
        }
        let source = std::fs::read_to_string(&path).unwrap();
        // An inline test module (`#[cfg(test)] mod tests { … }`) comes last in every file of
        // this crate: cut from it to the end. A test module in a file of its own
        // (`#[cfg(test)] mod tests;`) is left out when the folder is walked.
        let inline = source.match_indices("#[cfg(test)]\nmod ").find(|(at, _)| {
            let rest = &source[at + 17..];
            let line = rest.lines().next().unwrap_or("");
            line.trim_end().ends_with('{')
        });
        let source = match inline {
            Some((at, _)) => source[..at].to_owned(),
            None => source,
        };
        let source: String = source
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        out.insert(module, source);
    }
}

/// The `use` statements of a source, each as (is a re-export, the path words before any
/// braces, the names inside the braces).
fn uses(source: &str) -> Vec<(bool, Vec<String>, Vec<String>)> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("use ") {
        let before = &rest[..at];
        let starts_statement = before
            .chars()
            .last()
            .is_none_or(|c| c == '\n' || c == ' ' || c == ')' || c == ';' || c == '{');
        let tail = &rest[at + 4..];
        let Some(end) = tail.find(';') else { break };
        rest = &tail[end..];
        if !starts_statement {
            continue;
        }
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let public = before[line_start..].trim_start().starts_with("pub");
        let statement: String = tail[..end].split_whitespace().collect();
        let (head, inner) = match statement.find("::{") {
            Some(i) => (
                &statement[..i],
                statement[i + 3..].trim_end_matches('}').to_owned(),
            ),
            None => (statement.as_str(), String::new()),
        };
        let path: Vec<String> = head.split("::").map(str::to_owned).collect();
        // The first word of each top-level item of the braces.
        let mut names = Vec::new();
        let mut depth = 0;
        let mut item = String::new();
        for c in inner.chars().chain(std::iter::once(',')) {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    let first = item.split("::").next().unwrap_or("").to_owned();
                    let first = first.split(" as ").next().unwrap_or("").to_owned();
                    if !first.is_empty() {
                        names.push(first);
                    }
                    item.clear();
                    continue;
                }
                _ => {}
            }
            if depth == 0 {
                item.push(c);
            }
        }
        found.push((public, path, names));
    }
    found
}

impl Crate {
    fn load() -> Crate {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = BTreeMap::new();
        collect(&root, &root, &mut files);
        let mut reexports = BTreeMap::new();
        let mut globs: BTreeMap<Module, Vec<Module>> = BTreeMap::new();
        for (module, source) in &files {
            for (public, path, names) in uses(source) {
                if !public || path.first().is_some_and(|w| w == "crate" || w == "super") {
                    continue;
                }
                let path: Vec<String> = path.into_iter().filter(|w| w != "self").collect();
                let (child, names) = if names.is_empty() {
                    let (last, child) = path.split_last().unwrap();
                    (child.to_vec(), vec![last.clone()])
                } else {
                    (path, names)
                };
                let mut target = module.clone();
                target.extend(child);
                if names.iter().any(|n| n == "*") {
                    globs.entry(module.clone()).or_default().push(target);
                    continue;
                }
                for name in names {
                    reexports.insert((module.clone(), name), target.clone());
                }
            }
        }
        Crate {
            files,
            reexports,
            globs,
        }
    }

    /// The file a path leads to: its longest prefix that is a file, through re-exports.
    fn resolve(&self, path: &[String]) -> Option<Module> {
        for n in (0..=path.len()).rev() {
            let module = path[..n].to_vec();
            if !self.files.contains_key(&module) {
                continue;
            }
            if let Some(name) = path.get(n) {
                // `module::*`: the whole module.
                if name == "*" {
                    return Some(module);
                }
                let glob = self.globs.get(&module).and_then(|children| {
                    children
                        .iter()
                        .find(|c| self.files.get(*c).is_some_and(|src| defines(src, name)))
                });
                if let Some(child) = self.reexports.get(&(module.clone(), name.clone())).or(glob) {
                    if child != &module {
                        let mut next = child.clone();
                        next.extend_from_slice(&path[n..]);
                        return self.resolve(&next).or(Some(module));
                    }
                }
            }
            return Some(module);
        }
        None
    }

    fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut edges = BTreeMap::new();
        for (module, source) in &self.files {
            let mut targets = BTreeSet::new();
            let mut add = |path: Vec<String>| {
                if let Some(t) = self.resolve(&path) {
                    if &t != module {
                        targets.insert(t);
                    }
                }
            };
            for (public, path, names) in uses(source) {
                let mut absolute = match path.first().map(String::as_str) {
                    Some("crate") => path[1..].to_vec(),
                    Some("super") => {
                        let ups = path.iter().take_while(|w| *w == "super").count();
                        let mut base = module[..module.len().saturating_sub(ups)].to_vec();
                        base.extend_from_slice(&path[ups..]);
                        base
                    }
                    Some("self") if !public => {
                        let mut base = module.clone();
                        base.extend_from_slice(&path[1..]);
                        base
                    }
                    _ => continue,
                };
                if names.is_empty() {
                    add(absolute);
                } else {
                    for name in names {
                        if name == "self" {
                            add(absolute.clone());
                        } else {
                            absolute.push(name);
                            add(absolute.clone());
                            absolute.pop();
                        }
                    }
                }
            }
            // Paths written in place: `crate::a::b::item`.
            for (at, _) in source.match_indices("crate::") {
                let path: Vec<String> = source[at + 7..]
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .next()
                    .unwrap_or("")
                    .split("::")
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect();
                add(path);
            }
            edges.insert(module.clone(), targets);
        }
        edges
    }
}

/// The strongly connected components of more than one file (Tarjan's algorithm).
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        for w in &s.edges[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.stack.contains(&w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                component.push(if w.is_empty() {
                    "lib".to_owned()
                } else {
                    w.join("/")
                });
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn the_files_of_the_crate_import_each_other_without_a_circle() {
    let krate = Crate::load();
    assert!(krate.files.len() > 40, "the sources were not found");
    let edges = krate.edges();
    // The checker sees real edges: the service uses the store, the store the model.
    assert!(edges[&vec!["service".to_owned()]].contains(&vec!["store".to_owned()]));
    let found = circles(&edges);
    let known: Vec<Vec<String>> = KNOWN
        .iter()
        .map(|c| c.iter().map(|s| (*s).to_owned()).collect())
        .collect();
    let new: Vec<&Vec<String>> = found.iter().filter(|c| !known.contains(c)).collect();
    assert!(new.is_empty(), "import circles between files: {new:?}");
    let gone: Vec<&Vec<String>> = known.iter().filter(|c| !found.contains(c)).collect();
    assert!(
        gone.is_empty(),
        "these circles are broken now: take them out of KNOWN: {gone:?}"
    );
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let m = |s: &str| vec![s.to_owned()];
    edges.insert(m("a"), [m("b")].into());
    edges.insert(m("b"), [m("c")].into());
    edges.insert(m("c"), [m("a")].into());
    edges.insert(m("d"), [m("a")].into());
    assert_eq!(circles(&edges), vec![vec!["a", "b", "c"]]);
    // And the crate's own files, with a `use super::` edge added back up, form one.
    let krate = Crate::load();
    let mut edges = krate.edges();
    let writer = vec!["store".into(), "embedded".into(), "writer".into()];
    let embedded = vec!["store".to_owned(), "embedded".to_owned()];
    edges.get_mut(&writer).unwrap().insert(embedded.clone());
    edges.get_mut(&embedded).unwrap().insert(writer.clone());
    assert!(circles(&edges)
        .iter()
        .any(|c| c.contains(&"store/embedded/writer".to_owned())));
}
