//! Controlled musical stimuli for testing the mapping: one melody (fixed by a seed) can be
//! rendered with different tempo, level, brightness, mode, articulation density,
//! distortion and accompaniment, so a test changes one group of cues at a time.

/// Accompanying chords.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Chords {
    /// Triads of the key (I IV V I, or i iv v i in minor).
    Consonant,
    /// Clusters on the same roots: root, minor second, tritone, major seventh.
    Dissonant,
}

/// How to render the melody.
#[derive(Debug, Clone)]
pub struct Render {
    pub seed: u64,
    pub seconds: f32,
    pub sample_rate: u32,
    pub bpm: f32,
    /// Peak level before distortion, dBFS.
    pub gain_db: f32,
    /// 0 = dull (steep harmonic roll-off) .. 1 = bright.
    pub brightness: f32,
    pub minor: bool,
    /// Melody notes per beat (1, 2 or 4).
    pub notes_per_beat: u32,
    /// 0 = clean; larger = harder tanh overdrive (level re-normalised).
    pub distortion: f32,
    pub chords: Chords,
    /// MIDI note of the tonic (around 60).
    pub tonic: u8,
}

impl Default for Render {
    fn default() -> Self {
        Render {
            seed: 1,
            seconds: 10.0,
            sample_rate: 22050,
            bpm: 100.0,
            gain_db: -14.0,
            brightness: 0.5,
            minor: false,
            notes_per_beat: 2,
            distortion: 0.0,
            chords: Chords::Consonant,
            tonic: 60,
        }
    }
}

/// Small deterministic generator (SplitMix64) so stimuli need no RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const MAJOR: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];

fn midi_hz(m: f32) -> f32 {
    440.0 * 2f32.powf((m - 69.0) / 12.0)
}

const TABLE: usize = 2048;

/// One period of a harmonic tone with `k` partials falling as k^-slope, for each partial
/// count up to 12 (fewer partials for higher notes keep them below Nyquist).
struct Tables(Vec<Vec<f32>>);

impl Tables {
    fn new(slope: f32) -> Self {
        Tables(
            (1..=12usize)
                .map(|max_k| {
                    (0..TABLE)
                        .map(|i| {
                            let ph = 2.0 * std::f32::consts::PI * i as f32 / TABLE as f32;
                            (1..=max_k)
                                .map(|k| (k as f32 * ph).sin() / (k as f32).powf(slope))
                                .sum()
                        })
                        .collect()
                })
                .collect(),
        )
    }
}

/// Add one harmonic note with a fast attack and exponential decay (wavetable lookup,
/// so the cost does not grow with the number of partials).
fn note(out: &mut [f32], sr: f32, start: f32, dur: f32, hz: f32, amp: f32, t: &Tables) {
    let s0 = (start * sr) as usize;
    let n = ((dur * sr) as usize).min(out.len().saturating_sub(s0));
    let attack = (0.005 * sr) as usize;
    let env_step = (-1.0 / (0.6 * dur * sr)).exp();
    let max_k = ((0.45 * sr / hz) as usize).clamp(1, 12);
    let table = &t.0[max_k - 1];
    let inc = hz * TABLE as f32 / sr;
    let (mut phase, mut env) = (0.0f32, amp);
    for (i, o) in out[s0..s0 + n].iter_mut().enumerate() {
        let ramp = if i < attack {
            i as f32 / attack as f32
        } else {
            1.0
        };
        *o += table[phase as usize] * env * ramp;
        phase += inc;
        if phase >= TABLE as f32 {
            phase -= TABLE as f32;
        }
        env *= env_step;
    }
}

/// Render the stimulus as mono samples.
pub fn render(r: &Render) -> Vec<f32> {
    let sr = r.sample_rate as f32;
    let mut out = vec![0f32; (r.seconds * sr) as usize];
    let scale = if r.minor { MINOR } else { MAJOR };
    let beat = 60.0 / r.bpm;
    let tables = Tables::new(2.6 - 1.9 * r.brightness.clamp(0.0, 1.0));
    let tonic = r.tonic as i32;
    let pitch = |degree: i32| -> f32 {
        let oct = degree.div_euclid(7);
        (tonic + 12 * oct + scale[degree.rem_euclid(7) as usize]) as f32
    };
    // The melody's scale degrees depend on the seed only, so every rendering of a seed
    // plays the same tune (in time units of its own tempo).
    let mut rng = Rng(r.seed);
    let n_notes = (r.seconds / beat * r.notes_per_beat as f32).ceil() as usize + 1;
    let mut degrees = Vec::with_capacity(n_notes);
    let mut d = 0i32;
    for i in 0..n_notes {
        // Random walk leaning to the tonic triad on strong beats.
        if i % (4 * r.notes_per_beat as usize) == 0 {
            d = [0, 2, 4, 7][rng.below(4) as usize];
        } else {
            d = (d + rng.below(5) as i32 - 2).clamp(-2, 9);
        }
        degrees.push(d);
    }
    let step = beat / r.notes_per_beat as f32;
    for (i, &deg) in degrees.iter().enumerate() {
        let t = i as f32 * step;
        if t >= r.seconds {
            break;
        }
        note(
            &mut out,
            sr,
            t,
            step * 1.1,
            midi_hz(pitch(deg) + 12.0),
            0.5,
            &tables,
        );
    }
    // One chord per bar of four beats, plus the root an octave below.
    let roots = [0, 3, 4, 0];
    let mut bar = 0usize;
    while bar as f32 * 4.0 * beat < r.seconds {
        let t = bar as f32 * 4.0 * beat;
        let root = roots[bar % 4];
        let notes: Vec<f32> = match r.chords {
            Chords::Consonant => vec![pitch(root), pitch(root + 2), pitch(root + 4)],
            Chords::Dissonant => {
                let p = pitch(root);
                vec![p, p + 1.0, p + 6.0, p + 11.0]
            }
        };
        for m in notes {
            note(&mut out, sr, t, 4.0 * beat, midi_hz(m), 0.25, &tables);
        }
        note(
            &mut out,
            sr,
            t,
            4.0 * beat,
            midi_hz(pitch(root) - 12.0),
            0.35,
            &tables,
        );
        bar += 1;
    }
    if r.distortion > 0.0 {
        let peak = out.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-9);
        let g = 1.0 + 4.0 * r.distortion;
        for x in &mut out {
            *x = (g * *x / peak).tanh();
        }
    }
    let peak = out.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-9);
    let target = 10f32.powf(r.gain_db / 20.0);
    for x in &mut out {
        *x *= target / peak;
    }
    out
}
