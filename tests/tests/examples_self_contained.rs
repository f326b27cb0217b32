//! Each published adapter's examples are complete on their own (issue 15,
//! item 4): no example of a published crate includes a file with
//! `#[path]` (an example can use only its crate and that crate's
//! dependencies, so a published crate could not build it), and the demo's
//! services, one copy per adapter so that each builds its own demo, are
//! the same file in every adapter. `.ci/run` builds the examples from the
//! packaged crates as well.

use std::path::{Path, PathBuf};

/// The crates that are published, by their folder in the workspace.
const PUBLISHED: [&str; 4] = [
    "governor-core",
    "governor-tokio",
    "governor-smol",
    "governor-std",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lies in the workspace")
        .to_owned()
}

/// Every `.rs` file under `dir`, recursively (none if `dir` is absent).
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a readable folder").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_published_example_includes_a_file_by_path() {
    let mut files = Vec::new();
    for krate in PUBLISHED {
        rust_files(&workspace().join(krate).join("examples"), &mut files);
    }
    assert!(
        files.iter().any(|f| f.ends_with("demo/main.rs")),
        "the adapters' demos are found: {files:?}"
    );
    let offenders: Vec<_> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .expect("a readable example")
                .contains("#[path")
        })
        .collect();
    assert!(offenders.is_empty(), "#[path] in {offenders:?}");
}

#[test]
fn every_adapters_demo_has_the_same_services() {
    let tokio = include_str!("../../governor-tokio/examples/demo/services.rs");
    let smol = include_str!("../../governor-smol/examples/demo/services.rs");
    let std = include_str!("../../governor-std/examples/demo/services.rs");
    assert!(
        tokio == smol,
        "governor-smol's examples/demo/services.rs differs from governor-tokio's: copy it over"
    );
    assert!(
        tokio == std,
        "governor-std's examples/demo/services.rs differs from governor-tokio's: copy it over"
    );
}
