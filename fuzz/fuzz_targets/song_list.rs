//! A song list in any format the importer reads: the first byte picks the file
//! extension (which picks the parser), the rest is the file. Reading only: no library.
#![no_main]

use libfuzzer_sys::fuzz_target;

const EXTENSIONS: [&str; 5] = ["csv", "tsv", "xlsx", "xls", "ods"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let ext = EXTENSIONS[pick as usize % EXTENSIONS.len()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("songs.{ext}"));
    std::fs::write(&path, file).unwrap();
    if let Err(e) = moodtune_library::ImportBatch::read_without_audio_links(&path) {
        // Every refusal names the file it refuses.
        assert!(e.to_string().contains("songs."), "{e}");
    }
});
