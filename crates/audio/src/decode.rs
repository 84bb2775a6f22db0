//! File front end: checks the path, probes the container with symphonia, and streams
//! decoded packets (downmixed to mono) into an [`Analyzer`] until the file ends or the
//! analysis window is full. Only one packet of audio is held at a time.

use crate::{Analysis, Analyzer, AudioError, Limits};
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_ALAC, CODEC_ID_FLAC, CODEC_ID_PCM_MULAW, CODEC_ID_PCM_S32LE,
};
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

/// Channels beyond this are taken as a corrupt header rather than real audio.
const MAX_CHANNELS: usize = 64;
/// Largest plausible decoded packet (frames x channels); bigger declared sizes would make
/// decoders allocate absurd buffers.
const MAX_PACKET_SAMPLES: u64 = 1 << 24;
/// Packets that fail to decode are skipped up to this many (and at most 10% of packets).
const MAX_DECODE_ERRORS: usize = 50;

/// Extensions symphonia cannot decode here, with the reason told to the user.
fn known_unsupported(ext: &str) -> Option<&'static str> {
    match ext {
        "opus" => Some("Opus has no pure-Rust decoder in this build"),
        "xm" | "mod" | "it" | "s3m" => Some("tracker modules are not sampled audio"),
        "mid" | "midi" => Some("MIDI files contain notes, not audio"),
        "wma" | "ape" | "wv" | "mpc" => Some("codec not supported by symphonia"),
        _ => None,
    }
}

pub(crate) fn analyze_path(path: &Path, limits: &Limits) -> Result<Analysis, AudioError> {
    let p = path.to_path_buf();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AudioError::NotFound { path: p })
        }
        Err(e) => {
            return Err(AudioError::Unreadable {
                path: p,
                reason: e.to_string(),
            })
        }
    };
    if meta.is_dir() {
        return Err(AudioError::Unreadable {
            path: p,
            reason: "is a directory".into(),
        });
    }
    if !meta.is_file() {
        // FIFOs and devices could block or never end.
        return Err(AudioError::Unreadable {
            path: p,
            reason: "not a regular file".into(),
        });
    }
    if meta.len() == 0 {
        return Err(AudioError::Empty {
            path: p,
            reason: "zero-length file".into(),
        });
    }
    if meta.len() > limits.max_file_bytes {
        return Err(AudioError::TooLarge {
            path: p,
            bytes: meta.len(),
            limit: limits.max_file_bytes,
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if let Some(reason) = ext.as_deref().and_then(known_unsupported) {
        return Err(AudioError::Unsupported {
            path: p,
            reason: reason.into(),
        });
    }
    let file = File::open(path).map_err(|e| AudioError::Unreadable {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    // A decoder bug must not take the whole folder scan down with it.
    match catch_unwind(AssertUnwindSafe(|| {
        stream(file, ext.as_deref(), limits, path)
    })) {
        Ok(r) => r,
        Err(_) => Err(AudioError::Corrupt {
            path: p,
            reason: "the decoder panicked on this file".into(),
        }),
    }
}

/// Whether the container states the exact length (PCM in WAV/AIFF, FLAC, ALAC), as
/// opposed to an estimate (an MP3 without a Xing header is sized from its first bitrate).
fn exact_length(codec: AudioCodecId) -> bool {
    codec == CODEC_ID_FLAC
        || codec == CODEC_ID_ALAC
        || (CODEC_ID_PCM_S32LE..=CODEC_ID_PCM_MULAW).contains(&codec)
}

fn corrupt(path: &Path, reason: impl Into<String>) -> AudioError {
    AudioError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn unsupported(path: &Path, reason: impl Into<String>) -> AudioError {
    AudioError::Unsupported {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn stream(
    file: File,
    ext: Option<&str>,
    limits: &Limits,
    path: &Path,
) -> Result<Analysis, AudioError> {
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(e) = ext {
        hint.with_extension(e);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::IoError(io) => corrupt(path, format!("reading the header: {io}")),
            SymError::Unsupported(_) => {
                unsupported(path, "not a recognised audio container or codec")
            }
            other => corrupt(path, other.to_string()),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .or_else(|| {
            format
                .tracks()
                .iter()
                .find(|t| t.codec_params.as_ref().and_then(|c| c.audio()).is_some())
        })
        .ok_or_else(|| unsupported(path, "no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|c| c.audio())
        .ok_or_else(|| unsupported(path, "no audio codec parameters"))?
        .clone();
    let declared_frames = track.num_frames;
    let channels = params.channels.as_ref().map_or(0, |c| c.count());
    if channels > MAX_CHANNELS {
        return Err(corrupt(
            path,
            format!("header declares {channels} channels"),
        ));
    }
    if let Some(rate) = params.sample_rate {
        if !(1000..=768_000).contains(&rate) {
            return Err(corrupt(path, format!("header declares {rate} Hz")));
        }
    }
    if let Some(max) = params.max_frames_per_packet {
        if max.saturating_mul(channels.max(1) as u64) > MAX_PACKET_SAMPLES {
            return Err(corrupt(
                path,
                format!("header declares packets of {max} frames"),
            ));
        }
    }
    let declared_s = declared_frames
        .zip(params.sample_rate)
        .map(|(n, r)| n as f64 / r as f64);
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| unsupported(path, format!("codec {:?}: {e}", params.codec)))?;

    let mut analyzer: Option<Analyzer> = None;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut mono: Vec<f32> = Vec::new();
    let (mut packets, mut errors, mut frames_out) = (0usize, 0usize, 0u64);
    let mut last_error = String::new();
    let mut stopped_early = false;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // Older readers signal the end of a stream as an unexpected EOF.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                if frames_out == 0 {
                    return Err(corrupt(path, e.to_string()));
                }
                last_error = e.to_string();
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        packets += 1;
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            Err(SymError::DecodeError(e)) => {
                errors += 1;
                last_error = e.to_string();
                if errors > MAX_DECODE_ERRORS && errors * 10 > packets {
                    return Err(corrupt(
                        path,
                        format!("{errors} of {packets} packets failed to decode: {e}"),
                    ));
                }
                continue;
            }
            Err(SymError::IoError(_)) => continue,
            Err(e) => return Err(corrupt(path, e.to_string())),
        };
        let n = decoded.frames();
        if n == 0 {
            continue;
        }
        let spec = decoded.spec();
        let ch = spec.channels().count().max(1);
        if ch > MAX_CHANNELS {
            return Err(corrupt(path, format!("{ch} channels")));
        }
        if analyzer.is_none() {
            analyzer = Some(
                Analyzer::new(spec.rate(), limits)
                    .map_err(|_| corrupt(path, format!("sample rate {} Hz", spec.rate())))?,
            );
        }
        decoded.copy_to_vec_interleaved(&mut interleaved);
        mono.clear();
        let inv = 1.0 / ch as f32;
        mono.extend(
            interleaved
                .chunks_exact(ch)
                .map(|f| f.iter().sum::<f32>() * inv),
        );
        frames_out += n as u64;
        let a = analyzer.as_mut().expect("created above");
        a.push(&mono);
        if a.is_full() {
            stopped_early = true;
            break;
        }
    }
    let Some(analyzer) = analyzer else {
        return Err(if errors > 0 {
            corrupt(path, format!("no packet could be decoded: {last_error}"))
        } else {
            AudioError::Empty {
                path: path.to_path_buf(),
                reason: "no audio samples".into(),
            }
        });
    };
    // A header promising much more audio than the file holds means the file was cut
    // short (or the header is bogus): say so rather than analyse a fragment silently.
    // Estimated lengths (lossy formats) only count when less than half arrived.
    if !stopped_early {
        if let Some(declared) = declared_frames {
            let need = if exact_length(params.codec) { 0.9 } else { 0.5 };
            if declared > 0 && (frames_out as f64) < need * declared as f64 - 4096.0 {
                return Err(corrupt(
                    path,
                    format!(
                        "truncated: decoded {frames_out} of {declared} declared frames{}",
                        if last_error.is_empty() {
                            String::new()
                        } else {
                            format!(" ({last_error})")
                        }
                    ),
                ));
            }
        }
    }
    analyzer
        .finish_with(declared_s)
        .map_err(|e| e.renamed(path))
}
