//! Where each of the seven emotions sits in Russell's (1980) circumplex: valence
//! (unpleasant -1 to pleasant +1) across, arousal (calm -1 to excited +1) up. Audio
//! analysis maps songs into this plane, and a thin emotion library borrows songs from
//! the nearest ones in it. docs/AUDIO.md gives the sources of the positions.

use crate::Emotion;

impl Emotion {
    /// The emotion's (valence, arousal) point, each in [-1, 1].
    pub fn circumplex(self) -> (f32, f32) {
        match self {
            // Russell's (1980) angles, radii set so the musical emotions sit where
            // expressive performances of them land (docs/AUDIO.md).
            Emotion::Angry => (-0.55, 0.80),
            Emotion::Disgust => (-0.65, 0.20),
            Emotion::Fear => (-0.70, 0.50),
            Emotion::Happy => (0.75, 0.40),
            Emotion::Sad => (-0.60, -0.55),
            Emotion::Surprise => (0.35, 0.90),
            Emotion::Neutral => (0.0, 0.0),
        }
    }

    /// All seven emotions, nearest to the point (valence, arousal) first; ties keep
    /// FER2013 order.
    pub fn nearest_to(valence: f32, arousal: f32) -> [Emotion; 7] {
        let mut all = Emotion::ALL;
        let dist = |e: &Emotion| {
            let (v, a) = e.circumplex();
            (v - valence).powi(2) + (a - arousal).powi(2)
        };
        all.sort_by(|x, y| dist(x).total_cmp(&dist(y)));
        all
    }

    /// The other six emotions, nearest in the circumplex first.
    pub fn neighbours(self) -> impl Iterator<Item = Emotion> {
        let (v, a) = self.circumplex();
        Emotion::nearest_to(v, a)
            .into_iter()
            .filter(move |&e| e != self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_circumplex() {
        for e in Emotion::ALL {
            let (v, a) = e.circumplex();
            assert!(
                (-1.0..=1.0).contains(&v) && (-1.0..=1.0).contains(&a),
                "{e}"
            );
            assert_eq!(Emotion::nearest_to(v, a)[0], e, "{e} is nearest itself");
        }
        // Sadness is the calm negative one, anger the excited negative one.
        assert!(Emotion::Sad.circumplex().1 < Emotion::Angry.circumplex().1);
        assert!(Emotion::Happy.circumplex().0 > Emotion::Neutral.circumplex().0);
        // The nearest neighbour of anger is fear, of sadness not happiness.
        assert_eq!(Emotion::Angry.neighbours().next(), Some(Emotion::Fear));
        assert_ne!(Emotion::Sad.neighbours().next(), Some(Emotion::Happy));
        assert_eq!(Emotion::Happy.neighbours().count(), 6);
    }
}
