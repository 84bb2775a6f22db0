//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

pub mod http;
pub mod serve;

/// Runs the `moodtune` binary with `args` and `--db DB`.
pub fn moodtune(args: &[&str], db: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_moodtune"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}
