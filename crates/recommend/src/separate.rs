//! Keeping the same artist from playing twice in a row.

use std::collections::HashMap;

/// Picks up to `k` entries of a ranked pool (given by their artist ids, best first)
/// and orders them so that no two neighbours share an artist, and the first differs
/// from `prev`, whenever some choice of `k` entries allows it.
///
/// Greedy in rank order: each slot takes the best remaining entry whose artist differs
/// from the previous one *and* after which the remaining slots can still be filled
/// without neighbours sharing an artist. That check is exact: with `s` slots left and
/// previous artist `p`, a valid continuation exists iff
/// `sum over artists a of min(count_a, cap_a) >= s`, where `cap_a = ceil(s/2)` and
/// `cap_p = floor(s/2)` (an artist can fill at most every other slot, and `p` cannot
/// take the first). When no choice avoids a repeat, the best entry is taken.
///
/// Returns the chosen pool positions in play order, and whether a repeat was forced.
pub(crate) fn separate(artists: &[u32], k: usize, prev: Option<u32>) -> (Vec<usize>, bool) {
    let mut remaining: Vec<usize> = (0..artists.len()).collect();
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &a in artists {
        *counts.entry(a).or_default() += 1;
    }
    let slots = k.min(artists.len());
    let mut out = Vec::with_capacity(slots);
    let mut forced = false;
    let mut last = prev;
    for step in 0..slots {
        // Slots left after the one being filled now.
        let after = slots - step - 1;
        let hi = after.div_ceil(2);
        let lo = after / 2;
        let base: usize = counts.values().map(|&c| c.min(hi)).sum();
        let feasible_after = |a: u32| {
            let c = counts[&a];
            base - c.min(hi) + (c - 1).min(lo) >= after
        };
        let pick = remaining
            .iter()
            .position(|&i| Some(artists[i]) != last && feasible_after(artists[i]))
            .or_else(|| remaining.iter().position(|&i| Some(artists[i]) != last))
            .unwrap_or(0);
        let i = remaining.remove(pick);
        let a = artists[i];
        if Some(a) == last {
            forced = true;
        }
        let c = counts.get_mut(&a).expect("artist counted");
        *c -= 1;
        if *c == 0 {
            counts.remove(&a);
        }
        out.push(i);
        last = Some(a);
    }
    (out, forced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn has_repeat(artists: &[u32], order: &[usize], prev: Option<u32>) -> bool {
        let mut last = prev;
        for &i in order {
            if Some(artists[i]) == last {
                return true;
            }
            last = Some(artists[i]);
        }
        false
    }

    /// Exhaustive: does any ordered choice of `k` entries avoid repeats?
    fn brute_possible(artists: &[u32], k: usize, prev: Option<u32>) -> bool {
        fn go(artists: &[u32], used: &mut Vec<bool>, left: usize, last: Option<u32>) -> bool {
            if left == 0 {
                return true;
            }
            for i in 0..artists.len() {
                if !used[i] && Some(artists[i]) != last {
                    used[i] = true;
                    let ok = go(artists, used, left - 1, Some(artists[i]));
                    used[i] = false;
                    if ok {
                        return true;
                    }
                }
            }
            false
        }
        go(artists, &mut vec![false; artists.len()], k, prev)
    }

    #[test]
    fn keeps_rank_order_when_artists_already_alternate() {
        let (order, forced) = separate(&[1, 2, 1, 3], 4, None);
        assert_eq!(order, vec![0, 1, 2, 3]);
        assert!(!forced);
    }

    #[test]
    fn pulls_up_the_next_other_artist() {
        // Ranked A A B: A B A is the only repeat-free order.
        let (order, forced) = separate(&[1, 1, 2], 3, None);
        assert_eq!(order, vec![0, 2, 1]);
        assert!(!forced);
        // Ranked B A A: plain greedy would play B A A; the look-ahead plays A B A.
        let (order, forced) = separate(&[2, 1, 1], 3, None);
        assert_eq!(order, vec![1, 0, 2]);
        assert!(!forced);
        // The previous song was by A, so the first must not be.
        let (order, _) = separate(&[1, 2, 3], 2, Some(1));
        assert_eq!(order, vec![1, 0]);
    }

    #[test]
    fn forced_repeat_only_when_unavoidable() {
        let (order, forced) = separate(&[1, 1, 1, 2], 4, None);
        assert_eq!(order.len(), 4);
        assert!(forced);
    }

    #[test]
    fn matches_exhaustive_search_on_random_pools() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..3000 {
            let n = rng.gen_range(0..8);
            let artists: Vec<u32> = (0..n).map(|_| rng.gen_range(0..3)).collect();
            let k = rng.gen_range(0..=n);
            let prev = if rng.gen_bool(0.5) {
                Some(rng.gen_range(0..3))
            } else {
                None
            };
            let (order, forced) = separate(&artists, k, prev);
            assert_eq!(order.len(), k);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), k, "no entry twice");
            assert_eq!(forced, has_repeat(&artists, &order, prev));
            assert_eq!(
                forced,
                !brute_possible(&artists, k, prev),
                "artists {artists:?} k {k} prev {prev:?} -> {order:?}"
            );
        }
    }
}
