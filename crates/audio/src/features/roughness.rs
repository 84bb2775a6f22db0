//! Sensory roughness (dissonance) after Plomp & Levelt (1965) in Sethares' (1993)
//! parametrisation, summed over pairs of spectral peaks. Beating partials closer than a
//! critical band sound rough; the curve peaks near a quarter of a critical band.

use super::spectral::Peak;

/// Roughness of a set of partials, normalised by their total power so it measures how
/// the spectrum is arranged, not how loud it is (loudness is a separate cue).
pub(crate) fn roughness(peaks: &[Peak]) -> f32 {
    const B1: f32 = 3.51;
    const B2: f32 = 5.75;
    const XSTAR: f32 = 0.24;
    const S1: f32 = 0.0207;
    const S2: f32 = 18.96;
    let mut d = 0.0f32;
    let mut power = 0.0f32;
    for (i, p) in peaks.iter().enumerate() {
        power += p.amp * p.amp;
        for q in &peaks[i + 1..] {
            let (lo, hi) = if p.freq < q.freq { (p, q) } else { (q, p) };
            let s = XSTAR / (S1 * lo.freq + S2);
            let x = s * (hi.freq - lo.freq);
            if x > 4.0 {
                continue; // beyond the curve: negligible
            }
            let m = lo.amp.min(hi.amp);
            d += m * m * ((-B1 * x).exp() - (-B2 * x).exp());
        }
    }
    if power <= 0.0 {
        0.0
    } else {
        d / power
    }
}

/// Consonance of the interval classes sounding together, weighted by the product of the
/// pitch-class strengths: Huron's (1994) aggregate dyadic consonance for interval classes
/// 1..6. Mode-neutral (major and minor triads hold the same interval classes), so it
/// measures harmonic dissonance apart from key.
pub(crate) fn interval_consonance(chroma: &[f32; 12]) -> f32 {
    const HURON: [f32; 7] = [0.0, -1.428, -0.582, 0.594, 0.386, 1.240, -0.453];
    let (mut num, mut den) = (0.0f32, 0.0f32);
    for i in 0..12 {
        for j in i + 1..12 {
            let w = chroma[i] * chroma[j];
            let ic = (j - i).min(12 - (j - i));
            num += w * HURON[ic];
            den += w;
        }
    }
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn harmonic(f0: f32, n: usize) -> Vec<Peak> {
        (1..=n)
            .map(|k| Peak {
                freq: f0 * k as f32,
                amp: 1.0 / k as f32,
            })
            .collect()
    }

    #[test]
    fn semitone_rougher_than_fifth() {
        let mut fifth = harmonic(261.6, 6);
        fifth.extend(harmonic(392.0, 6));
        let mut semi = harmonic(261.6, 6);
        semi.extend(harmonic(277.2, 6));
        assert!(roughness(&semi) > 2.0 * roughness(&fifth));
    }
}
