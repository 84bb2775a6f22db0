//! An audio file: its tags as the importer reads them (lofty) and its sound as the
//! analyser decodes it (symphonia). The first byte picks the extension.
#![no_main]

use libfuzzer_sys::fuzz_target;

const EXTENSIONS: [&str; 6] = ["wav", "mp3", "flac", "ogg", "m4a", "opus"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let ext = EXTENSIONS[pick as usize % EXTENSIONS.len()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("song.{ext}"));
    std::fs::write(&path, file).unwrap();
    let _ = moodtune_library::ImportBatch::read_without_audio_links(&path);
    let limits = moodtune_audio::Limits {
        max_seconds: 5.0,
        ..moodtune_audio::Limits::default()
    };
    if let Err(e) = moodtune_audio::analyze_file_with(&path, &limits) {
        assert!(e.to_string().contains("song."), "{e}");
    }
});
