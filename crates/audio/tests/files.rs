//! Decoding real containers and refusing bad ones: every error names the file, nothing
//! panics.

use moodtune_audio::stimuli::{render, Render};
use moodtune_audio::{analyze_file, analyze_file_with, AudioError, Limits};
use std::io::Write;
use std::path::{Path, PathBuf};

fn write_wav(path: &Path, spec: hound::WavSpec, mono: &[f32]) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &x in mono {
        for _ in 0..spec.channels {
            match spec.sample_format {
                hound::SampleFormat::Float => w.write_sample(x).unwrap(),
                hound::SampleFormat::Int => {
                    let max = (1i64 << (spec.bits_per_sample - 1)) as f32 - 1.0;
                    w.write_sample((x * max) as i32).unwrap()
                }
            }
        }
    }
    w.finalize().unwrap();
}

fn stimulus(rate: u32) -> Vec<f32> {
    render(&Render {
        seconds: 6.0,
        sample_rate: rate,
        gain_db: -6.0,
        ..Render::default()
    })
}

/// The error mentions the file by name.
fn assert_names(e: &AudioError, p: &Path) {
    let msg = e.to_string();
    let name = p.file_name().unwrap().to_string_lossy();
    assert!(msg.contains(name.as_ref()), "{msg}");
    assert_eq!(e.path(), p);
    println!("{msg}");
}

#[test]
fn wav_variants_decode_and_agree_with_samples() {
    let dir = tempfile::tempdir().unwrap();
    let x = stimulus(44100);
    let direct = moodtune_audio::analyze_samples(&x, 44100).unwrap();
    let variants = [
        ("s16_stereo.wav", 2, 16, hound::SampleFormat::Int),
        ("s24_mono.wav", 1, 24, hound::SampleFormat::Int),
        ("f32_stereo.wav", 2, 32, hound::SampleFormat::Float),
    ];
    for (name, channels, bits, fmt) in variants {
        let p = dir.path().join(name);
        let spec = hound::WavSpec {
            channels,
            sample_rate: 44100,
            bits_per_sample: bits,
            sample_format: fmt,
        };
        write_wav(&p, spec, &x);
        let a = analyze_file(&p).unwrap();
        assert!(
            (a.duration_s - 6.0).abs() < 0.01,
            "{name}: {}",
            a.duration_s
        );
        assert_eq!(a.emotion, direct.emotion, "{name}");
        assert!((a.valence - direct.valence).abs() < 0.05, "{name}");
        assert!((a.arousal - direct.arousal).abs() < 0.05, "{name}");
        assert_eq!(a.key, direct.key);
    }
    // Other rates go through the resampler (upsampling included).
    for rate in [8000u32, 48000, 96000] {
        let p = dir.path().join(format!("r{rate}.wav"));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        write_wav(&p, spec, &stimulus(rate));
        let a = analyze_file(&p).unwrap();
        assert!((a.duration_s - 6.0).abs() < 0.01);
        let t = a.tempo_bpm.unwrap();
        assert!(
            (t - 100.0).abs() < 5.0 || (t - 200.0).abs() < 10.0,
            "{rate}: {t}"
        );
    }
}

#[test]
fn analysis_serialises_to_json_and_back() {
    let a = moodtune_audio::analyze_samples(&stimulus(22050), 22050).unwrap();
    let s = serde_json::to_string(&a).unwrap();
    let b: moodtune_audio::Analysis = serde_json::from_str(&s).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a.features.vector().len(),
        moodtune_audio::FEATURE_VECTOR_LEN
    );
    assert!(a.features.vector().iter().all(|v| v.is_finite()));
    assert!(!a.drivers.is_empty());
    assert!((0.0..=1.0).contains(&a.confidence));
}

#[test]
fn bad_files_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let empty = d.join("empty.mp3");
    std::fs::File::create(&empty).unwrap();
    let e = analyze_file(&empty).unwrap_err();
    assert!(matches!(e, AudioError::Empty { .. }), "{e}");
    assert_names(&e, &empty);

    // Pseudo-random bytes (fixed LCG) pretending to be an mp3.
    let noise = d.join("noise.mp3");
    let mut s = 0x1234_5678_u64;
    let bytes: Vec<u8> = (0..200_000)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 56) as u8
        })
        .collect();
    std::fs::write(&noise, &bytes).unwrap();
    let e = analyze_file(&noise).unwrap_err();
    assert_names(&e, &noise);

    let text = d.join("notes.wav");
    std::fs::write(&text, "this is not audio at all\n".repeat(100)).unwrap();
    assert_names(&analyze_file(&text).unwrap_err(), &text);

    // A WAV cut in half: the header promises twice the audio the file holds.
    let cut = d.join("cut.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    write_wav(&cut, spec, &stimulus(44100));
    let full = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let e = analyze_file(&cut).unwrap_err();
    assert!(matches!(e, AudioError::Corrupt { .. }), "{e}");
    assert_names(&e, &cut);

    // Headers declaring absurd sizes.
    for (name, channels, rate, data_len) in [
        ("huge_data.wav", 2u16, 44100u32, 0xFFFF_FFF0u32),
        ("many_channels.wav", 60000, 44100, 1000),
        ("zero_rate.wav", 2, 0, 1000),
        ("huge_rate.wav", 2, 4_000_000_000, 1000),
    ] {
        let p = d.join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        let block = channels as u32 * 2;
        let mut h = Vec::new();
        h.extend(b"RIFF");
        h.extend(0xFFFF_FFF8u32.to_le_bytes());
        h.extend(b"WAVEfmt ");
        h.extend(16u32.to_le_bytes());
        h.extend(1u16.to_le_bytes());
        h.extend(channels.to_le_bytes());
        h.extend(rate.to_le_bytes());
        h.extend(rate.wrapping_mul(block).to_le_bytes());
        h.extend((block as u16).to_le_bytes());
        h.extend(16u16.to_le_bytes());
        h.extend(b"data");
        h.extend(data_len.to_le_bytes());
        f.write_all(&h).unwrap();
        f.write_all(&vec![0x11u8; 44100 * 4]).unwrap();
        drop(f);
        let e = analyze_file(&p).unwrap_err();
        assert_names(&e, &p);
    }

    assert_names(&analyze_file(d).unwrap_err(), d);
    let missing = d.join("missing.flac");
    let e = analyze_file(&missing).unwrap_err();
    assert!(matches!(e, AudioError::NotFound { .. }));
    assert_names(&e, &missing);

    let opus = d.join("song.opus");
    std::fs::write(&opus, b"OggS\0\x02").unwrap();
    let e = analyze_file(&opus).unwrap_err();
    assert!(matches!(e, AudioError::Unsupported { .. }), "{e}");
    assert_names(&e, &opus);

    let big = d.join("big.wav");
    write_wav(&big, spec, &stimulus(44100));
    let limits = Limits {
        max_file_bytes: 1000,
        ..Limits::default()
    };
    let e = analyze_file_with(&big, &limits).unwrap_err();
    assert!(matches!(e, AudioError::TooLarge { .. }));
    assert_names(&e, &big);
}

#[test]
fn silence_and_near_silence_are_reported_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let p = dir.path().join("silence.wav");
    write_wav(&p, spec, &vec![0.0; 22050 * 5]);
    let e = analyze_file(&p).unwrap_err();
    assert!(matches!(e, AudioError::Silent { .. }), "{e}");
    assert_names(&e, &p);
    // Hiss at about -70 dBFS.
    let mut s = 1u32;
    let hiss: Vec<f32> = (0..22050 * 5)
        .map(|_| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.001
        })
        .collect();
    let e = moodtune_audio::analyze_samples(&hiss, 22050).unwrap_err();
    assert!(matches!(e, AudioError::Silent { .. }), "{e}");
    // Quiet but real music is analysed.
    let quiet = render(&Render {
        gain_db: -40.0,
        seconds: 5.0,
        ..Render::default()
    });
    assert!(moodtune_audio::analyze_samples(&quiet, 22050).is_ok());
    // No samples at all.
    let e = moodtune_audio::analyze_samples(&[], 22050).unwrap_err();
    assert!(matches!(e, AudioError::Empty { .. }));
}

#[test]
fn long_file_stops_at_the_analysis_limit() {
    // 20 minutes of 8 kHz mono WAV (19 MB); only the first 60 s are decoded.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let bar = stimulus(8000);
    let mut w = hound::WavWriter::create(&p, spec).unwrap();
    for _ in 0..200 {
        for &x in &bar {
            w.write_sample((x * 32000.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
    let limits = Limits {
        max_seconds: 60.0,
        ..Limits::default()
    };
    let t = std::time::Instant::now();
    let a = analyze_file_with(&p, &limits).unwrap();
    println!("20 min file, 60 s analysed in {:?}", t.elapsed());
    assert!((a.duration_s - 1200.0).abs() < 0.5, "{}", a.duration_s);
    assert!((a.analysed_s - 60.0).abs() < 0.5, "{}", a.analysed_s);
}

/// Real recordings (Debian's hyperrogue-music, installed by scripts/setup-test-audio.sh).
#[test]
fn real_ogg_files_if_installed() {
    let dir = PathBuf::from("/usr/share/hyperrogue/music");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        moodtune_testkit::missing(
            &dir.display().to_string(),
            "run scripts/setup-test-audio.sh",
        );
        return;
    };
    let mut n = 0;
    for e in entries.flatten().take(3) {
        let a = analyze_file(&e.path()).unwrap();
        assert!(a.duration_s > 10.0);
        n += 1;
    }
    println!("analysed {n} ogg files");
}
