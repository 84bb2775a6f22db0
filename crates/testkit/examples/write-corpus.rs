//! Writes the bad-input corpus into a folder: `cargo run -p moodtune-testkit --example
//! write-corpus DIR` (seeds for the fuzz targets, or a look by hand).

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: write-corpus DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let entries = moodtune_testkit::corpus::write_corpus(&dir);
    println!("{} files in {}", entries.len(), dir.display());
}
