//! The architecture invariants of ARCHITECTURE.md, checked on the workspace's declared
//! dependencies (`cargo metadata`), so a shortcut between layers fails the build's tests.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Each workspace crate and the workspace crates it depends on (normal and build
/// dependencies; dev-dependencies are the tests' business).
fn workspace_graph() -> BTreeMap<String, BTreeSet<String>> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
            manifest,
        ])
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().unwrap().to_string())
                .filter(|d| names.contains(d))
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

const FACE_SIDE: &[&str] = &["moodtune-faces", "moodtune-fer"];
const LIBRARY_SIDE: &[&str] = &["moodtune-library", "moodtune-lyrics", "moodtune-recommend"];
/// The adapters and the glue: nothing below them may depend on them.
const UPPER: &[&str] = &[
    "moodtune-app",
    "moodtune-server",
    "moodtune-web",
    "moodtune",
];

#[test]
fn the_layers_depend_only_downwards() {
    let graph = workspace_graph();
    assert!(graph.contains_key("moodtune-app") && graph.contains_key("moodtune-server"));

    // The server knows no domain crate: HTTP and wire types over moodtune-core only.
    let server: Vec<_> = graph["moodtune-server"].iter().collect();
    assert_eq!(
        server,
        ["moodtune-core"],
        "moodtune-server depends on {server:?}"
    );

    // moodtune-core is the shared vocabulary: it depends on no other crate of ours.
    assert!(
        graph["moodtune-core"].is_empty(),
        "{:?}",
        graph["moodtune-core"]
    );

    for (krate, deps) in &graph {
        // Only the application layer sees both the faces and the song library.
        let faces = deps.iter().any(|d| FACE_SIDE.contains(&d.as_str()));
        let library = deps.iter().any(|d| LIBRARY_SIDE.contains(&d.as_str()));
        if faces && library {
            assert!(
                krate == "moodtune-app" || krate == "moodtune",
                "{krate} depends on both the face side and the library side: go through moodtune-app"
            );
        }
        // Nothing below the adapters depends on them.
        if !UPPER.contains(&krate.as_str()) {
            let up: Vec<_> = deps
                .iter()
                .filter(|d| UPPER.contains(&d.as_str()))
                .collect();
            assert!(up.is_empty(), "{krate} depends on {up:?}, a layer above it");
        }
    }
    // The app is glue, not HTTP.
    assert!(!graph["moodtune-app"].contains("moodtune-server"));

    // The web adapter converts between the app and the server and nothing else: it
    // reaches the domain only through the app, and only it and the binary see both.
    let web: Vec<_> = graph["moodtune-web"].iter().collect();
    assert_eq!(
        web,
        ["moodtune-app", "moodtune-core", "moodtune-server"],
        "moodtune-web depends on {web:?}"
    );
    for (krate, deps) in &graph {
        if deps.contains("moodtune-app") && deps.contains("moodtune-server") {
            assert!(
                krate == "moodtune-web" || krate == "moodtune",
                "{krate} joins the app and the server: that is moodtune-web's job"
            );
        }
    }
}
