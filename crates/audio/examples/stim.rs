//! Print the analysis of a few stimuli (development aid).
use moodtune_audio::stimuli::{render, Chords, Render};
fn main() {
    for seed in [1u64, 2, 3, 4] {
        for (name, r) in [
            (
                "cons",
                Render {
                    seed,
                    minor: seed & 1 == 0,
                    ..Render::default()
                },
            ),
            (
                "diss",
                Render {
                    seed,
                    minor: seed & 1 == 0,
                    chords: Chords::Dissonant,
                    ..Render::default()
                },
            ),
            (
                "dist",
                Render {
                    seed,
                    minor: seed & 1 == 0,
                    distortion: 1.5,
                    ..Render::default()
                },
            ),
        ] {
            let t = std::time::Instant::now();
            let x = render(&r);
            let t1 = t.elapsed();
            let a = moodtune_audio::analyze_samples(&x, r.sample_rate).unwrap();
            let f = &a.features;
            println!("{seed} {name} {:?} v={:+.2} a={:+.2} key={:?}{:?} ks={:.2} mm={:+.3} rough={:.3} cons={:.3} flat={:.3} cen={:.0} rms={:.1} tempo={:.0} clar={:.2} ioi={:.2} onset={:.2} flux={:.2} synth={:?} ana={:?} {:?}",
                a.emotion, a.valence, a.arousal, a.key, a.mode, f.key_strength, f.major_margin, f.roughness, f.consonance, f.flatness, f.centroid_hz, f.rms_db, f.tempo_bpm, f.pulse_clarity, f.ioi_cv, f.onset_rate, f.flux, t1, t.elapsed() - t1, a.drivers);
        }
    }
}
