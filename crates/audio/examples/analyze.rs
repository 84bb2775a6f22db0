//! Analyse the audio files given on the command line (files in parallel) and print one
//! line per file: emotion, confidence, valence, arousal, tempo, key, drivers.
//!
//! cargo run --release -p moodtune-audio --example analyze -- FILE...

use rayon::prelude::*;
use std::path::PathBuf;

fn main() {
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let verbose = std::env::var_os("VERBOSE").is_some();
    let out: Vec<String> = files
        .par_iter()
        .map(|f| match moodtune_audio::analyze_file(f) {
            Ok(a) => {
                let mut s = format!(
                    "{}\t{:?}\t{:.2}\tv={:+.2}\ta={:+.2}\t{:>5.1}s\ttempo={}\tkey={} {:?}\t{}",
                    f.display(),
                    a.emotion,
                    a.confidence,
                    a.valence,
                    a.arousal,
                    a.duration_s,
                    a.tempo_bpm.map_or("-".into(), |t| format!("{t:.0}")),
                    a.key.as_deref().unwrap_or("-"),
                    a.mode,
                    a.drivers.join(", ")
                );
                if verbose {
                    let x = &a.features;
                    s += &format!(
                        "\n    rms={:.1} dr={:.1} sud={:.1} onset={:.2} clar={:.2} ioi={:.2} cen={:.0} roll={:.0} flux={:.2} flat={:.3} ks={:.2} mm={:+.3} rough={:.3} cons={:.3}",
                        x.rms_db, x.dynamic_range_db, x.sudden_db, x.onset_rate, x.pulse_clarity, x.ioi_cv,
                        x.centroid_hz, x.rolloff_hz, x.flux, x.flatness, x.key_strength, x.major_margin, x.roughness, x.consonance
                    );
                }
                s
            }
            Err(e) => format!("{}\tERROR {e}", f.display()),
        })
        .collect();
    for l in out {
        println!("{l}");
    }
}
