//! Which emotion libraries a playlist draws from, in order.

use crate::Strategy;
use moodtune_core::Emotion;

/// The libraries a `lift` sequence walks through for a mood, first to last.
///
/// Iso principle of music therapy: meet the mood first, then move gradually. Negative
/// moods start in their own library, pass through Neutral (calm, low arousal) and end
/// in Happy (positive, moderate arousal). Anger and fear are high-arousal states, so
/// they stay longer in the calm step before the positive one. Neutral is lifted gently
/// toward Happy. Positive moods are already where regulation aims, so they are kept
/// (Surprise is not used as a target: it is positive but high-arousal).
pub fn lift_plan(mood: Emotion) -> Vec<Emotion> {
    use Emotion::*;
    match mood {
        Sad => vec![Sad, Sad, Neutral, Happy],
        Disgust => vec![Disgust, Disgust, Neutral, Happy],
        Angry => vec![Angry, Angry, Neutral, Neutral, Happy],
        Fear => vec![Fear, Fear, Neutral, Neutral, Happy],
        Neutral => vec![Neutral, Neutral, Happy],
        Happy => vec![Happy],
        Surprise => vec![Surprise],
    }
}

/// The plan's libraries merged into consecutive steps, e.g. Sad, Sad, Neutral, Happy
/// becomes `[Sad, Neutral, Happy]`.
pub(crate) fn steps(mood: Emotion, strategy: Strategy) -> Vec<Emotion> {
    let mut out: Vec<Emotion> = Vec::new();
    let plan = match strategy {
        Strategy::Match => vec![mood],
        Strategy::Lift => lift_plan(mood),
    };
    for e in plan {
        if out.last() != Some(&e) {
            out.push(e);
        }
    }
    out
}

/// How many of `limit` songs each plan entry gets: position `j` of the playlist maps to
/// plan entry `round(j * (P-1) / (limit-1))`, so the first song is always from the first
/// entry and the last from the last, with the rest spread evenly. The counts are then
/// summed per merged step (same order as [`steps`]).
pub(crate) fn step_counts(mood: Emotion, strategy: Strategy, limit: usize) -> Vec<usize> {
    let plan = match strategy {
        Strategy::Match => vec![mood],
        Strategy::Lift => lift_plan(mood),
    };
    let steps = steps(mood, strategy);
    let mut counts = vec![0usize; steps.len()];
    if limit == 0 {
        return counts;
    }
    let p = plan.len();
    for j in 0..limit {
        let entry = if limit == 1 || p == 1 {
            0
        } else {
            // Integer form of round(j * (p-1) / (limit-1)).
            (2 * j * (p - 1) + (limit - 1)) / (2 * (limit - 1))
        };
        // Map the plan entry to its merged step: count the changes before it.
        let step = (1..=entry).filter(|&i| plan[i] != plan[i - 1]).count();
        counts[step] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use Emotion::*;

    #[test]
    fn negative_moods_end_happy_and_start_at_the_mood() {
        for mood in [Angry, Disgust, Fear, Sad] {
            let plan = lift_plan(mood);
            assert_eq!(plan[0], mood);
            assert_eq!(*plan.last().unwrap(), Happy);
            assert!(plan.contains(&Neutral));
        }
        assert_eq!(steps(Happy, Strategy::Lift), vec![Happy]);
        assert_eq!(steps(Sad, Strategy::Match), vec![Sad]);
    }

    #[test]
    fn counts_spread_songs_over_steps() {
        // Sad plan S S N H: with 4 songs one per entry, i.e. Sad 2, Neutral 1, Happy 1.
        assert_eq!(step_counts(Sad, Strategy::Lift, 4), vec![2, 1, 1]);
        // 8 songs: entries round(j*3/7) = 0,0,1,1,2,2,3,3 -> Sad 4, Neutral 2, Happy 2.
        assert_eq!(step_counts(Sad, Strategy::Lift, 8), vec![4, 2, 2]);
        // 2 songs: first and last entry only.
        assert_eq!(step_counts(Sad, Strategy::Lift, 2), vec![1, 0, 1]);
        assert_eq!(step_counts(Sad, Strategy::Lift, 1), vec![1, 0, 0]);
        assert_eq!(step_counts(Sad, Strategy::Lift, 0), vec![0, 0, 0]);
        // Angry A A N N H with 10 songs: round(j*4/9) = 0,0,1,1,2,2,3,3,4,4.
        assert_eq!(step_counts(Angry, Strategy::Lift, 10), vec![4, 4, 2]);
        assert_eq!(step_counts(Happy, Strategy::Match, 7), vec![7]);
        for limit in 0..50 {
            let total: usize = step_counts(Fear, Strategy::Lift, limit).iter().sum();
            assert_eq!(total, limit);
        }
    }
}
