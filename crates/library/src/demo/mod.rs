//! The demo library: 21 short songs (3 per emotion) that this module composes and
//! synthesizes itself, so a fresh install can recommend and play something with no
//! music of the user's own. Titles, artists, tags and lyrics are the project's own.
//!
//! Each emotion has a musical style: happy is major, fast and bright; sad minor and
//! slow with decaying piano tones; angry low, loud power chords on a distorted saw
//! with pounding drums; fear a trembling low cluster with sparse high dissonances;
//! disgust a detuned, wobbling locrian buzz; surprise whole-tone leaps and sudden
//! accents; neutral a soft pentatonic pad. Audio is 22.05 kHz mono 16-bit WAV.
//!
//! [`SONGS`] is the catalogue (`songs.rs`), `synth.rs` composes and renders it, and this
//! module writes the WAV files and adds the songs to a library.

mod songs;
mod synth;

pub use songs::SONGS;
pub use synth::render;

use crate::error::{Error, Result};
use crate::export::write_atomically;
use crate::store::{upsert_song, Library, NewSong};
use moodtune_core::Emotion;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

pub const SAMPLE_RATE: u32 = 22_050;
/// The `source` of demo songs in the library.
pub const SOURCE: &str = "moodtune-demo";

/// One demo song's metadata.
#[derive(Debug, Clone, Copy)]
pub struct DemoSong {
    /// File name stem and key within [`SOURCE`].
    pub slug: &'static str,
    pub title: &'static str,
    pub artist: &'static str,
    pub emotion: Emotion,
    pub tags: &'static [&'static str],
    pub lyrics: &'static str,
    pub language: &'static str,
    /// Length in seconds (20-30).
    pub seconds: f32,
}

/// What [`install`] / [`install_into`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReport {
    pub added: usize,
    pub already_present: usize,
    /// WAV files synthesized (missing ones are made again even if the songs exist).
    pub files_written: usize,
    pub audio_dir: PathBuf,
}

/// The folder, beside the library's database, that holds the demo songs' audio.
pub const AUDIO_DIR: &str = "demo-songs";

/// Installs the demo library in a data folder: `dir/library.sqlite` and the audio in
/// `dir/demo-songs/` ([`AUDIO_DIR`]). Safe to call on every start: what is present is left alone.
pub fn install(dir: &Path) -> Result<DemoReport> {
    let mut lib = Library::open(dir.join("library.sqlite"))?;
    install_into(&mut lib, &dir.join(AUDIO_DIR))
}

/// Adds the demo songs to `lib`, writing their audio into `audio_dir`. Songs already
/// in the library (by their demo key) are skipped, keeping any edits the user made.
pub fn install_into(lib: &mut Library, audio_dir: &Path) -> Result<DemoReport> {
    std::fs::create_dir_all(audio_dir).map_err(|e| Error::io(audio_dir, e))?;
    let missing: Vec<&DemoSong> = SONGS
        .iter()
        .filter(|s| !wav_path(audio_dir, s).is_file())
        .collect();
    missing
        .par_iter()
        .map(|s| {
            let mut bytes = wav_bytes(&render(s));
            add_riff_info(&mut bytes, s);
            write_atomically(&wav_path(audio_dir, s), &bytes)
        })
        .collect::<Result<Vec<()>>>()?;
    let audio_dir_abs = audio_dir
        .canonicalize()
        .map_err(|e| Error::io(audio_dir, e))?;
    let mut report = DemoReport {
        files_written: missing.len(),
        audio_dir: audio_dir_abs.clone(),
        ..DemoReport::default()
    };
    let path = lib.path().to_path_buf();
    lib.write(|tx| {
        for s in SONGS {
            let present: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM songs WHERE source = ?1 AND source_key = ?2)",
                    rusqlite::params![SOURCE, s.slug],
                    |r| r.get(0),
                )
                .map_err(crate::store::raw)?;
            if present {
                report.already_present += 1;
                continue;
            }
            let mut song = NewSong::new(s.title, s.artist)
                .tags(s.tags.iter().copied())
                .emotion(s.emotion)
                .lyrics(s.lyrics)
                .audio(wav_path(&audio_dir_abs, s));
            song.album = Some("moodtune demo".into());
            song.language = Some(s.language.into());
            song.duration_s = Some(s.seconds as f64);
            song.source = SOURCE.into();
            song.source_key = s.slug.into();
            upsert_song(tx, &song)?;
            report.added += 1;
        }
        Ok(())
    })
    .map_err(|e| crate::store::with_path(e, &path))?;
    Ok(report)
}

fn wav_path(dir: &Path, s: &DemoSong) -> PathBuf {
    dir.join(format!("{}.wav", s.slug))
}

/// A 16-bit mono WAV file of `samples` at [`SAMPLE_RATE`].
pub fn wav_bytes(samples: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut buf = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        // Writing to memory cannot fail short of allocation failure.
        let mut w = hound::WavWriter::new(&mut buf, spec).expect("wav header");
        let mut w16 = w.get_i16_writer(samples.len() as u32);
        for &s in samples {
            w16.write_sample(s);
        }
        w16.flush().expect("wav samples");
        w.finalize().expect("wav finalize");
    }
    buf.into_inner()
}

/// Appends a RIFF `LIST/INFO` chunk (title, artist, album, genre = tags) so the files
/// describe themselves when imported elsewhere as a music folder.
fn add_riff_info(wav: &mut Vec<u8>, s: &DemoSong) {
    let tags = s.tags.join("; ");
    let mut info = b"INFO".to_vec();
    for (id, text) in [
        (b"INAM", s.title),
        (b"IART", s.artist),
        (b"IPRD", "moodtune demo"),
        (b"IGNR", tags.as_str()),
    ] {
        let mut data = text.as_bytes().to_vec();
        data.push(0);
        info.extend_from_slice(id);
        info.extend_from_slice(&(data.len() as u32).to_le_bytes());
        info.extend_from_slice(&data);
        if data.len() % 2 == 1 {
            info.push(0);
        }
    }
    wav.extend_from_slice(b"LIST");
    wav.extend_from_slice(&(info.len() as u32).to_le_bytes());
    wav.extend_from_slice(&info);
    let riff_size = (wav.len() - 8) as u32;
    wav[4..8].copy_from_slice(&riff_size.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_bytes_are_a_valid_wav() {
        let samples: Vec<i16> = (0..1000).map(|i| (i * 13 % 2000) as i16 - 1000).collect();
        let bytes = wav_bytes(&samples);
        let r = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(r.spec().sample_rate, SAMPLE_RATE);
        assert_eq!(r.spec().channels, 1);
        assert_eq!(r.spec().bits_per_sample, 16);
        let back: Vec<i16> = r.into_samples().map(|s| s.unwrap()).collect();
        assert_eq!(back, samples);
    }
}
