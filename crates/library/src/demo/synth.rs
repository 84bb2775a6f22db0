//! The demo songs' synthesiser: each emotion's musical style, a seeded composition
//! per song, and additive synthesis of its notes and drums into 16-bit samples.

use super::{DemoSong, SAMPLE_RATE};
use moodtune_core::Emotion;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TABLE_BITS: u32 = 12;
const TABLE_LEN: usize = 1 << TABLE_BITS;

/// One cycle of a sine, so oscillators cost a multiply and a lookup per sample.
fn sine_table() -> &'static [f32; TABLE_LEN] {
    static TABLE: std::sync::OnceLock<Box<[f32; TABLE_LEN]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0.0f32; TABLE_LEN]);
        for (i, v) in t.iter_mut().enumerate() {
            *v = (i as f64 / TABLE_LEN as f64 * std::f64::consts::TAU).sin() as f32;
        }
        t
    })
}

#[inline]
fn sin_cycles(table: &[f32; TABLE_LEN], phase: f32) -> f32 {
    let p = phase - phase.floor();
    table[(p * TABLE_LEN as f32) as usize & (TABLE_LEN - 1)]
}

/// How an instrument sounds.
#[derive(Debug, Clone, Copy)]
struct Timbre {
    /// Amplitudes of harmonics 1, 2, 3, ...
    harmonics: &'static [f32],
    attack_s: f32,
    /// Exponential decay rate per second (0 holds the note).
    decay: f32,
    vibrato_hz: f32,
    /// Vibrato depth as a fraction of the frequency.
    vibrato_depth: f32,
    /// A second oscillator this many Hz above, for beating/detuned sounds.
    detune_hz: f32,
    /// Soft clipping amount (0 = clean).
    drive: f32,
}

const PIANO: Timbre = Timbre {
    harmonics: &[1.0, 0.45, 0.25, 0.12, 0.08, 0.04],
    attack_s: 0.005,
    decay: 2.2,
    vibrato_hz: 0.0,
    vibrato_depth: 0.0,
    detune_hz: 0.0,
    drive: 0.0,
};
const STRINGS: Timbre = Timbre {
    harmonics: &[1.0, 0.6, 0.4, 0.3, 0.2, 0.12],
    attack_s: 0.25,
    decay: 0.0,
    vibrato_hz: 5.5,
    vibrato_depth: 0.004,
    detune_hz: 0.8,
    drive: 0.0,
};
const SYNTH: Timbre = Timbre {
    harmonics: &[1.0, 0.0, 0.33, 0.0, 0.2, 0.0, 0.14, 0.0, 0.11],
    attack_s: 0.01,
    decay: 1.2,
    vibrato_hz: 0.0,
    vibrato_depth: 0.0,
    detune_hz: 0.0,
    drive: 0.0,
};
const ORGAN: Timbre = Timbre {
    harmonics: &[1.0, 0.5, 0.0, 0.3, 0.0, 0.0, 0.0, 0.15],
    attack_s: 0.02,
    decay: 0.6,
    vibrato_hz: 6.0,
    vibrato_depth: 0.002,
    detune_hz: 0.0,
    drive: 0.0,
};
const SOFT_PAD: Timbre = Timbre {
    harmonics: &[1.0, 0.2, 0.05],
    attack_s: 0.6,
    decay: 0.0,
    vibrato_hz: 0.0,
    vibrato_depth: 0.0,
    detune_hz: 0.5,
    drive: 0.0,
};
const DIST_SAW: Timbre = Timbre {
    harmonics: &[1.0, 0.5, 0.33, 0.25, 0.2, 0.17, 0.14, 0.12, 0.11, 0.1],
    attack_s: 0.005,
    decay: 0.8,
    vibrato_hz: 0.0,
    vibrato_depth: 0.0,
    detune_hz: 1.5,
    drive: 4.0,
};
const BUZZ: Timbre = Timbre {
    harmonics: &[1.0, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35],
    attack_s: 0.08,
    decay: 0.3,
    vibrato_hz: 3.0,
    vibrato_depth: 0.02,
    detune_hz: 4.0,
    drive: 1.5,
};
const BASS: Timbre = Timbre {
    harmonics: &[1.0, 0.5, 0.2],
    attack_s: 0.01,
    decay: 1.5,
    vibrato_hz: 0.0,
    vibrato_depth: 0.0,
    detune_hz: 0.0,
    drive: 0.0,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Drums {
    None,
    /// Kick on 1 and 3, snare on 2 and 4, hats on eighths.
    Pop,
    /// Kick on every beat, snare on 2 and 4, hats on sixteenths.
    Pound,
    /// A slow double kick like a heartbeat.
    Heartbeat,
    /// Off-beat kicks and snares with random extra hits.
    Jumpy,
}

/// The musical recipe of one emotion.
#[derive(Debug, Clone, Copy)]
struct Style {
    /// MIDI note of the key's root, in the melody's octave.
    root: i32,
    scale: &'static [i32],
    bpm: f32,
    /// Chord roots as scale degrees, one chord per bar.
    progression: &'static [usize],
    /// Chord made of these scale steps above the chord root (0, 2, 4 is a triad).
    chord: &'static [usize],
    pad: Timbre,
    pad_octave: i32,
    melody_density: f64,
    /// Largest melodic step in scale degrees.
    max_step: i32,
    /// Notes of the melody last this many eighths.
    note_eighths: usize,
    drums: Drums,
    /// Adds a semitone-above "wrong" note to chords (fear, disgust, anger).
    cluster: bool,
    /// Amplitude tremolo rate (Hz) for the pad; 0 for none.
    tremolo_hz: f32,
    /// Chance of a sudden loud accent per bar (surprise).
    accents: f64,
}

const MAJOR: &[i32] = &[0, 2, 4, 5, 7, 9, 11];
const MINOR: &[i32] = &[0, 2, 3, 5, 7, 8, 10];
const PHRYGIAN: &[i32] = &[0, 1, 3, 5, 7, 8, 10];
const LOCRIAN: &[i32] = &[0, 1, 3, 5, 6, 8, 10];
const WHOLE_TONE: &[i32] = &[0, 2, 4, 6, 8, 10];
const PENTATONIC: &[i32] = &[0, 2, 4, 7, 9];
const DIMINISHED: &[i32] = &[0, 1, 3, 4, 6, 7, 9, 10];

fn style(emotion: Emotion) -> Style {
    match emotion {
        Emotion::Happy => Style {
            root: 72,
            scale: MAJOR,
            bpm: 128.0,
            progression: &[0, 4, 5, 3],
            chord: &[0, 2, 4],
            pad: ORGAN,
            pad_octave: -1,
            melody_density: 0.8,
            max_step: 2,
            note_eighths: 1,
            drums: Drums::Pop,
            cluster: false,
            tremolo_hz: 0.0,
            accents: 0.0,
        },
        Emotion::Sad => Style {
            root: 62,
            scale: MINOR,
            bpm: 66.0,
            progression: &[0, 5, 2, 6],
            chord: &[0, 2, 4],
            pad: STRINGS,
            pad_octave: -1,
            melody_density: 0.45,
            max_step: 1,
            note_eighths: 3,
            drums: Drums::None,
            cluster: false,
            tremolo_hz: 0.0,
            accents: 0.0,
        },
        Emotion::Angry => Style {
            root: 52,
            scale: PHRYGIAN,
            bpm: 152.0,
            progression: &[0, 0, 1, 0],
            chord: &[0, 4],
            pad: DIST_SAW,
            pad_octave: -1,
            melody_density: 0.7,
            max_step: 3,
            note_eighths: 1,
            drums: Drums::Pound,
            cluster: true,
            tremolo_hz: 0.0,
            accents: 0.0,
        },
        Emotion::Fear => Style {
            root: 50,
            scale: DIMINISHED,
            bpm: 58.0,
            progression: &[0, 1, 0, 3],
            chord: &[0, 2, 4],
            pad: STRINGS,
            pad_octave: -1,
            melody_density: 0.18,
            max_step: 4,
            note_eighths: 2,
            drums: Drums::Heartbeat,
            cluster: true,
            tremolo_hz: 9.0,
            accents: 0.0,
        },
        Emotion::Disgust => Style {
            root: 55,
            scale: LOCRIAN,
            bpm: 84.0,
            progression: &[0, 4, 1, 0],
            chord: &[0, 2, 4],
            pad: BUZZ,
            pad_octave: -1,
            melody_density: 0.5,
            max_step: 1,
            note_eighths: 2,
            drums: Drums::None,
            cluster: true,
            tremolo_hz: 0.0,
            accents: 0.0,
        },
        Emotion::Surprise => Style {
            root: 74,
            scale: WHOLE_TONE,
            bpm: 140.0,
            progression: &[0, 2, 1, 4],
            chord: &[0, 2, 4],
            pad: SYNTH,
            pad_octave: -1,
            melody_density: 0.65,
            max_step: 5,
            note_eighths: 1,
            drums: Drums::Jumpy,
            cluster: false,
            tremolo_hz: 0.0,
            accents: 0.5,
        },
        Emotion::Neutral => Style {
            root: 67,
            scale: PENTATONIC,
            bpm: 90.0,
            progression: &[0, 3, 0, 4],
            chord: &[0, 2, 3],
            pad: SOFT_PAD,
            pad_octave: -1,
            melody_density: 0.4,
            max_step: 1,
            note_eighths: 2,
            drums: Drums::None,
            cluster: false,
            tremolo_hz: 0.0,
            accents: 0.0,
        },
    }
}

/// The lead instrument follows the song's tags, so "Piano" songs sound like a piano.
fn lead_timbre(song: &DemoSong, st: &Style) -> Timbre {
    let has = |t: &str| song.tags.contains(&t);
    if song.emotion == Emotion::Angry {
        DIST_SAW
    } else if song.emotion == Emotion::Disgust && !has("Keyboard") {
        BUZZ
    } else if has("Piano") {
        PIANO
    } else if has("Strings") {
        STRINGS
    } else if has("Electronic") {
        SYNTH
    } else if has("Keyboard") {
        ORGAN
    } else {
        st.pad
    }
}

fn midi_hz(note: f32) -> f32 {
    440.0 * 2f32.powf((note - 69.0) / 12.0)
}

/// Scale degree (any integer, may be negative) to a MIDI note.
fn degree_note(st: &Style, root: i32, degree: i32) -> i32 {
    let n = st.scale.len() as i32;
    let octave = degree.div_euclid(n);
    root + octave * 12 + st.scale[degree.rem_euclid(n) as usize]
}

/// Adds one note of `timbre` to `out`.
#[allow(clippy::too_many_arguments)]
fn add_note(
    out: &mut [f32],
    table: &[f32; TABLE_LEN],
    start_s: f32,
    dur_s: f32,
    note: f32,
    amp: f32,
    t: &Timbre,
    tremolo_hz: f32,
) {
    let sr = SAMPLE_RATE as f32;
    let start = (start_s * sr) as usize;
    if start >= out.len() {
        return;
    }
    let len = ((dur_s * sr) as usize).min(out.len() - start);
    let freq = midi_hz(note);
    // Harmonics above Nyquist would alias into noise.
    let n_harm = t
        .harmonics
        .iter()
        .enumerate()
        .take_while(|(k, _)| freq * (*k as f32 + 1.0) < sr * 0.45)
        .count();
    // Phases are 32-bit fixed point (a full cycle is 2^32), so wrapping is free and a
    // harmonic's phase is one multiply; the top bits index the sine table.
    let harm: Vec<(u32, f32)> = t.harmonics[..n_harm]
        .iter()
        .enumerate()
        .filter(|(_, a)| **a != 0.0)
        .map(|(k, a)| (k as u32 + 1, *a))
        .collect();
    let norm: f32 = harm.iter().map(|(_, a)| a).sum::<f32>().max(1e-3);
    let fund = harm.first().map(|(_, a)| *a).unwrap_or(0.0);
    let attack = (t.attack_s * sr).max(1.0);
    let release = (0.03 * sr).min(len as f32 / 2.0).max(1.0);
    let decay_step = (-t.decay / sr).exp();
    let mut decay_env = 1.0f32;
    const CYCLE: f32 = 4_294_967_296.0;
    let shift = 32 - TABLE_BITS;
    let look = |p: u32| table[(p >> shift) as usize];
    let inc = freq / sr * CYCLE;
    let inc2 = (freq + t.detune_hz) / sr * CYCLE;
    let trem_inc = (tremolo_hz / sr * CYCLE) as u32;
    let vib_inc = (t.vibrato_hz / sr * CYCLE) as u32;
    let (mut phase, mut phase2, mut trem_phase, mut vib_phase) = (0u32, 0u32, 0u32, 0u32);
    let drive_norm = if t.drive > 0.0 {
        1.0 / (t.drive / (1.0 + t.drive))
    } else {
        1.0
    };
    let out = &mut out[start..start + len];
    for (i, o) in out.iter_mut().enumerate() {
        let fi = i as f32;
        let mut env = decay_env * (fi / attack).min(1.0) * ((len as f32 - fi) / release).min(1.0);
        decay_env *= decay_step;
        if trem_inc != 0 {
            env *= 0.6 + 0.4 * look(trem_phase);
            trem_phase = trem_phase.wrapping_add(trem_inc);
        }
        let vib = if vib_inc != 0 && t.vibrato_depth > 0.0 {
            vib_phase = vib_phase.wrapping_add(vib_inc);
            1.0 + t.vibrato_depth * look(vib_phase)
        } else {
            1.0
        };
        phase = phase.wrapping_add((inc * vib) as u32);
        let mut s = 0.0;
        for &(k, a) in &harm {
            s += a * look(phase.wrapping_mul(k));
        }
        if t.detune_hz != 0.0 {
            phase2 = phase2.wrapping_add((inc2 * vib) as u32);
            s = 0.5 * (s + fund * look(phase2) * norm);
        }
        s /= norm;
        if t.drive > 0.0 {
            let x = s * t.drive;
            s = x / (1.0 + x.abs()) * drive_norm;
        }
        *o += s * env * amp;
    }
}

/// Tiny xorshift noise source for drums (quality is irrelevant, speed is not).
struct Noise(u32);
impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}

fn add_kick(out: &mut [f32], table: &[f32; TABLE_LEN], at_s: f32, amp: f32) {
    let sr = SAMPLE_RATE as f32;
    let start = (at_s * sr) as usize;
    let len = ((0.3 * sr) as usize).min(out.len().saturating_sub(start));
    let mut phase = 0.0f32;
    for i in 0..len {
        let t = i as f32 / sr;
        let f = 45.0 + 75.0 * (-t * 30.0).exp();
        phase += f / sr;
        out[start + i] += sin_cycles(table, phase) * (-t * 9.0).exp() * amp;
    }
}

fn add_noise_hit(
    out: &mut [f32],
    noise: &mut Noise,
    at_s: f32,
    amp: f32,
    decay: f32,
    bright: bool,
) {
    let sr = SAMPLE_RATE as f32;
    let start = (at_s * sr) as usize;
    let len = ((4.0 / decay * sr) as usize).min(out.len().saturating_sub(start));
    let mut prev = 0.0;
    for i in 0..len {
        let t = i as f32 / sr;
        let n = noise.next();
        // Differencing is a crude high-pass: hats hiss, snares keep some body.
        let s = if bright { n - prev } else { n };
        prev = n;
        out[start + i] += s * (-t * decay).exp() * amp;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Pad,
    Bass,
    Lead,
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Note {
        // Which voice plays it; the synthesizer does not care, the tests do.
        #[allow(dead_code)]
        part: Part,
        start: f32,
        dur: f32,
        note: f32,
        amp: f32,
        timbre: Timbre,
        tremolo_hz: f32,
    },
    Kick {
        at: f32,
        amp: f32,
    },
    Hit {
        at: f32,
        amp: f32,
        decay: f32,
        bright: bool,
    },
}

/// A composed song: what plays when, before any sound is made.
struct Score {
    events: Vec<Event>,
    samples: usize,
    seed: u64,
}

impl Score {
    #[allow(clippy::too_many_arguments)]
    fn note(
        &mut self,
        part: Part,
        start: f32,
        dur: f32,
        note: f32,
        amp: f32,
        timbre: &Timbre,
        tremolo_hz: f32,
    ) {
        self.events.push(Event::Note {
            part,
            start,
            dur,
            note,
            amp,
            timbre: *timbre,
            tremolo_hz,
        });
    }
    fn kick(&mut self, at: f32, amp: f32) {
        self.events.push(Event::Kick { at, amp });
    }
    fn hit(&mut self, at: f32, amp: f32, decay: f32, bright: bool) {
        self.events.push(Event::Hit {
            at,
            amp,
            decay,
            bright,
        });
    }
}

/// Synthesizes one demo song: samples at [`SAMPLE_RATE`], deterministic per song.
pub fn render(song: &DemoSong) -> Vec<i16> {
    synthesize(&compose(song))
}

fn synthesize(score: &Score) -> Vec<i16> {
    let table = sine_table();
    let mut out = vec![0.0f32; score.samples];
    let mut noise = Noise((score.seed as u32) | 1);
    for e in &score.events {
        match *e {
            Event::Note {
                start,
                dur,
                note,
                amp,
                ref timbre,
                tremolo_hz,
                ..
            } => add_note(&mut out, table, start, dur, note, amp, timbre, tremolo_hz),
            Event::Kick { at, amp } => add_kick(&mut out, table, at, amp),
            Event::Hit {
                at,
                amp,
                decay,
                bright,
            } => add_noise_hit(&mut out, &mut noise, at, amp, decay, bright),
        }
    }
    master(&mut out)
}

/// Writes the score of one song: chords, bass, melody and drums bar by bar.
fn compose(song: &DemoSong) -> Score {
    let st = style(song.emotion);
    let seed = song.slug.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Each song of a style gets its own key and a slightly different tempo.
    let root = st.root + rng.gen_range(-2..=2);
    let bpm = st.bpm * rng.gen_range(0.94..1.06);
    let beat = 60.0 / bpm;
    let bar = beat * 4.0;
    let eighth = beat / 2.0;
    let total = song.seconds;
    let n = (total * SAMPLE_RATE as f32) as usize;
    let mut score = Score {
        events: Vec::new(),
        samples: n,
        seed,
    };
    let lead = lead_timbre(song, &st);

    let bars = (total / bar).ceil() as usize;
    let mut melody_degree: i32 = 0;
    for b in 0..bars {
        let t0 = b as f32 * bar;
        let chord_root = st.progression[b % st.progression.len()] as i32;
        // Pad: the chord held for the bar (with a clashing semitone for tense styles).
        for &step in st.chord {
            let note = degree_note(&st, root + st.pad_octave * 12, chord_root + step as i32);
            score.note(
                Part::Pad,
                t0,
                bar,
                note as f32,
                0.22,
                &st.pad,
                st.tremolo_hz,
            );
        }
        if st.cluster {
            let note = degree_note(&st, root + st.pad_octave * 12, chord_root) + 1;
            score.note(
                Part::Pad,
                t0,
                bar,
                note as f32,
                0.15,
                &st.pad,
                st.tremolo_hz,
            );
        }
        // Bass: the chord root two octaves down, on beats 1 and 3 (every beat when driving).
        let bass_note = degree_note(&st, root - 24, chord_root) as f32;
        let bass_hits: &[f32] = match st.drums {
            Drums::Pound => &[0.0, 1.0, 2.0, 3.0],
            Drums::Heartbeat | Drums::None => &[0.0],
            _ => &[0.0, 2.0],
        };
        for &h in bass_hits {
            score.note(
                Part::Bass,
                t0 + h * beat,
                beat * 1.5,
                bass_note,
                0.4,
                &BASS,
                0.0,
            );
        }
        // Melody: a random walk on the scale, landing on chord tones on strong beats.
        let mut e = 0;
        while e < 8 {
            let start = t0 + e as f32 * eighth;
            if rng.gen_bool(st.melody_density) {
                let step = rng.gen_range(-st.max_step..=st.max_step);
                melody_degree = (melody_degree + step).clamp(-3, 9);
                if e % 4 == 0 {
                    // Snap to the nearest chord tone.
                    let len = st.scale.len() as i32;
                    let rel = (melody_degree - chord_root).rem_euclid(len);
                    if !st.chord.contains(&(rel as usize)) {
                        melody_degree -= 1;
                    }
                }
                let note = degree_note(&st, root, melody_degree) as f32;
                let dur = eighth * st.note_eighths as f32;
                let accent = if st.accents > 0.0 && e == 0 && rng.gen_bool(st.accents) {
                    1.8
                } else {
                    1.0
                };
                score.note(
                    Part::Lead,
                    start,
                    dur * 1.1,
                    note,
                    0.35 * accent,
                    &lead,
                    0.0,
                );
                if song.emotion == Emotion::Fear || song.emotion == Emotion::Disgust {
                    // A note a semitone away, slightly late: the melody never sits right.
                    score.note(Part::Lead, start + 0.05, dur, note + 1.0, 0.12, &lead, 0.0);
                }
                e += st.note_eighths;
            } else {
                e += 1;
            }
        }
        // Drums.
        match st.drums {
            Drums::None => {}
            Drums::Pop => {
                score.kick(t0, 0.8);
                score.kick(t0 + 2.0 * beat, 0.8);
                for s in [1.0, 3.0] {
                    score.hit(t0 + s * beat, 0.35, 18.0, false);
                }
                for h in 0..8 {
                    score.hit(t0 + h as f32 * eighth, 0.12, 60.0, true);
                }
            }
            Drums::Pound => {
                for k in 0..4 {
                    score.kick(t0 + k as f32 * beat, 1.0);
                }
                for s in [1.0, 3.0] {
                    score.hit(t0 + s * beat, 0.5, 14.0, false);
                }
                for h in 0..16 {
                    score.hit(t0 + h as f32 * beat / 4.0, 0.1, 70.0, true);
                }
            }
            Drums::Heartbeat => {
                for k in [0.0, 2.0] {
                    score.kick(t0 + k * beat, 0.7);
                    score.kick(t0 + k * beat + 0.28, 0.5);
                }
            }
            Drums::Jumpy => {
                score.kick(t0, 0.8);
                score.kick(t0 + 1.5 * beat, 0.7);
                score.hit(t0 + beat, 0.35, 18.0, false);
                score.hit(t0 + 3.0 * beat, 0.35, 18.0, false);
                for h in 0..8 {
                    if rng.gen_bool(0.6) {
                        score.hit(t0 + h as f32 * eighth, 0.12, 60.0, true);
                    }
                }
            }
        }
    }
    score
}

/// Fades in and out, normalizes to a safe peak and converts to 16-bit.
fn master(out: &mut [f32]) -> Vec<i16> {
    let sr = SAMPLE_RATE as f32;
    let n = out.len();
    let fade_in = (0.2 * sr) as usize;
    let fade_out = (2.0 * sr) as usize;
    for (i, s) in out.iter_mut().take(fade_in).enumerate() {
        *s *= i as f32 / fade_in as f32;
    }
    for i in 0..fade_out.min(n) {
        out[n - 1 - i] *= i as f32 / fade_out as f32;
    }
    let peak = out.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(1e-6);
    let gain = 0.89 / peak * i16::MAX as f32;
    out.iter().map(|s| (s * gain).round() as i16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::SONGS;

    fn song(slug: &str) -> &'static DemoSong {
        SONGS.iter().find(|s| s.slug == slug).unwrap()
    }

    /// Zero crossings per second: higher for brighter, higher-pitched sound.
    fn zcr(s: &[i16]) -> f32 {
        let z = s.windows(2).filter(|w| (w[0] >= 0) != (w[1] >= 0)).count();
        z as f32 / (s.len() as f32 / SAMPLE_RATE as f32)
    }

    #[test]
    fn renders_are_deterministic_full_length_and_distinct() {
        let s = song("happy-kite-day");
        let a = render(s);
        assert_eq!(a.len(), (s.seconds * SAMPLE_RATE as f32) as usize);
        assert_eq!(a, render(s));
        let peak = a.iter().map(|x| x.unsigned_abs()).max().unwrap();
        assert!((28_000..=29_500).contains(&peak), "{peak}");
        assert_ne!(
            a[..44_100],
            render(song("happy-sunlight-on-the-stairs"))[..44_100]
        );
    }

    /// Lead notes per second and their mean MIDI pitch.
    fn lead_stats(slug: &str) -> (f32, f32) {
        let score = compose(song(slug));
        let notes: Vec<f32> = score
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Note {
                    part: Part::Lead,
                    note,
                    ..
                } => Some(*note),
                _ => None,
            })
            .collect();
        let secs = score.samples as f32 / SAMPLE_RATE as f32;
        (
            notes.len() as f32 / secs,
            notes.iter().sum::<f32>() / notes.len() as f32,
        )
    }

    #[test]
    fn styles_fit_their_emotions() {
        let (happy_rate, happy_pitch) = lead_stats("happy-sunlight-on-the-stairs");
        let (sad_rate, sad_pitch) = lead_stats("sad-letters-never-sent");
        let (angry_rate, angry_pitch) = lead_stats("angry-red-line");
        let (fear_rate, fear_pitch) = lead_stats("fear-dark-forest");
        let (neutral_rate, _) = lead_stats("neutral-window-seat");
        // Happy and angry are busy, sad, fear and neutral are not.
        assert!(happy_rate > 2.0 * sad_rate, "{happy_rate} vs {sad_rate}");
        assert!(
            angry_rate > 2.0 * neutral_rate,
            "{angry_rate} vs {neutral_rate}"
        );
        assert!(fear_rate < happy_rate / 2.0, "{fear_rate} vs {happy_rate}");
        // Happy sits high, angry and fear low.
        assert!(
            happy_pitch > sad_pitch && sad_pitch > angry_pitch,
            "{happy_pitch} {sad_pitch} {angry_pitch}"
        );
        assert!(fear_pitch < sad_pitch, "{fear_pitch} vs {sad_pitch}");
        // The audio follows: happy sounds brighter (more zero crossings) than sad.
        let (happy, sad) = (
            render(song("happy-kite-day")),
            render(song("sad-empty-platform")),
        );
        assert!(
            zcr(&happy) > zcr(&sad) * 1.5,
            "{} vs {}",
            zcr(&happy),
            zcr(&sad)
        );
        // Keys: major third above the root for happy, minor for sad.
        assert_eq!(style(Emotion::Happy).scale[2], 4);
        assert_eq!(style(Emotion::Sad).scale[2], 3);
    }

    #[test]
    #[ignore = "prints measurements of every song"]
    fn print_features() {
        for s in SONGS {
            let r = render(s);
            let (rate, pitch) = lead_stats(s.slug);
            eprintln!(
                "{:40} zcr {:7.1} lead notes/s {rate:5.2} mean pitch {pitch:5.1}",
                s.slug,
                zcr(&r)
            );
        }
    }
}
