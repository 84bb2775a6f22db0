//! The song index and the ranking itself.

use crate::separate::separate;
use crate::{
    plan, Candidate, FeedbackKind, ProfileSummary, RecommendError, Recommendation, Request,
    Session, Taste, LIKE_WEIGHT, SKIP_DEMOTION, SKIP_WEIGHT,
};
use moodtune_core::Emotion;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::mem::size_of;
use std::ops::Range;

/// Bucket of songs without an emotion label: indexed (for picks, feedback and lookups)
/// but never recommended.
const UNLABELLED: usize = Emotion::COUNT;
/// Scores are compared at this resolution so that mathematically equal cosines which
/// differ in the last float bit still tie (and then fall back to title, id).
const SCORE_SCALE: f64 = 1e6;
/// Cold-start keys put this bit above the score for manual labels.
const MANUAL_TIER: u64 = 1 << 32;

/// Songs prepared for fast ranking. Build once per library change with
/// [`Index::build`]; all queries take `&self`, so one index can serve many threads.
#[derive(Debug, Clone)]
pub struct Index {
    tag_names: Vec<String>,
    tag_lookup: HashMap<String, u32>,
    artist_names: Vec<String>,
    artist_lookup: HashMap<String, u32>,
    // Per song, in index order: songs are grouped by emotion library so that each
    // library is one contiguous range (a sequential scan per request).
    ids: Vec<i64>,
    titles: Vec<Box<str>>,
    artists: Vec<u32>,
    confidence: Vec<f32>,
    manual: Vec<bool>,
    drivers: Vec<Box<[Box<str>]>>,
    /// Song `i`'s sorted, distinct tag ids are `tags[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    tags: Vec<u32>,
    /// A 0/1 vector's norm is sqrt(tag count): `inv_norm[n] = 1 / sqrt(n)` replaces a
    /// per-song norm array. f64 (like the profile norm) so that equal cosines reached
    /// through different tag counts still round to the same key.
    inv_norm: Vec<f64>,
    /// Library `b` (emotion id, or [`UNLABELLED`]) is `bucket_start[b]..bucket_start[b + 1]`.
    bucket_start: [u32; Emotion::COUNT + 2],
    /// (song id, index position), sorted by id for binary search.
    by_id: Vec<(i64, u32)>,
}

/// A song as stored in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct SongInfo<'a> {
    pub id: i64,
    pub title: &'a str,
    pub artist: &'a str,
    pub emotion: Option<Emotion>,
    pub tags: Vec<&'a str>,
    pub confidence: f32,
    pub manual: bool,
    pub drivers: Vec<&'a str>,
}

/// A profile as the ranking uses it: dense weights over tag ids.
struct Profile {
    weights: Vec<f32>,
    inv_norm: f64,
    /// Song positions excluded from this library's ranking (the picks).
    picks: Vec<u32>,
}

/// Artists and tags compare ignoring case and runs of spaces ("The  Band" is "the band").
fn normalize(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn intern(lookup: &mut HashMap<String, u32>, names: &mut Vec<String>, name: &str) -> Option<u32> {
    let key = normalize(name);
    if let Some(&id) = lookup.get(&key) {
        return Some(id);
    }
    let id = u32::try_from(names.len()).ok()?;
    names.push(name.trim().to_string());
    lookup.insert(key, id);
    Some(id)
}

fn quantize(score: f64) -> u64 {
    // Adding 0.5 and truncating rounds non-negative values; f64::round is a libm call
    // on baseline x86-64, and this runs once per song.
    (score.clamp(0.0, 1.0) * SCORE_SCALE + 0.5) as u64
}

fn key_score(key: u64) -> f32 {
    ((key & (MANUAL_TIER - 1)) as f64 / SCORE_SCALE) as f32
}

/// Case-insensitive title order, then exact, so ties are stable and readable.
fn title_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
            .then_with(|| a.cmp(b));
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
        .then_with(|| a.cmp(b))
}

impl Index {
    /// Builds the index. Fails only on duplicate song ids (or more than 2^32 songs/tags).
    pub fn build(candidates: Vec<Candidate>) -> Result<Index, RecommendError> {
        let n = candidates.len();
        let mut buckets: Vec<Vec<Candidate>> = (0..=Emotion::COUNT).map(|_| Vec::new()).collect();
        for c in candidates {
            let b = c.emotion.map_or(UNLABELLED, Emotion::index);
            buckets[b].push(c);
        }
        let mut ix = Index {
            tag_names: Vec::new(),
            tag_lookup: HashMap::new(),
            artist_names: Vec::new(),
            artist_lookup: HashMap::new(),
            ids: Vec::with_capacity(n),
            titles: Vec::with_capacity(n),
            artists: Vec::with_capacity(n),
            confidence: Vec::with_capacity(n),
            manual: Vec::with_capacity(n),
            drivers: Vec::with_capacity(n),
            offsets: Vec::with_capacity(n + 1),
            tags: Vec::new(),
            inv_norm: Vec::new(),
            bucket_start: [0; Emotion::COUNT + 2],
            by_id: Vec::with_capacity(n),
        };
        ix.offsets.push(0);
        let too_large = RecommendError::TooLarge;
        let mut max_tags = 0usize;
        let mut song_tags: Vec<u32> = Vec::new();
        for (b, bucket) in buckets.into_iter().enumerate() {
            ix.bucket_start[b] = u32::try_from(ix.ids.len()).map_err(|_| too_large("songs"))?;
            for c in bucket {
                let pos = u32::try_from(ix.ids.len()).map_err(|_| too_large("songs"))?;
                song_tags.clear();
                for t in &c.tags {
                    if t.trim().is_empty() {
                        continue;
                    }
                    let id = intern(&mut ix.tag_lookup, &mut ix.tag_names, t)
                        .ok_or(too_large("tags"))?;
                    song_tags.push(id);
                }
                song_tags.sort_unstable();
                song_tags.dedup();
                max_tags = max_tags.max(song_tags.len());
                ix.tags.extend_from_slice(&song_tags);
                ix.offsets
                    .push(u32::try_from(ix.tags.len()).map_err(|_| too_large("tag entries"))?);
                let artist = intern(&mut ix.artist_lookup, &mut ix.artist_names, &c.artist)
                    .ok_or(too_large("artists"))?;
                ix.artists.push(artist);
                ix.ids.push(c.id);
                ix.by_id.push((c.id, pos));
                ix.titles.push(c.title.into_boxed_str());
                let conf = if c.confidence.is_finite() {
                    c.confidence.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                ix.confidence.push(if c.manual { 1.0 } else { conf });
                ix.manual.push(c.manual);
                ix.drivers
                    .push(c.drivers.into_iter().map(String::into_boxed_str).collect());
            }
        }
        ix.bucket_start[Emotion::COUNT + 1] = ix.ids.len() as u32;
        // The tag list grew by doubling; an index lives long, so give the slack back.
        ix.tags.shrink_to_fit();
        ix.by_id.sort_unstable();
        if let Some(w) = ix.by_id.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(RecommendError::DuplicateId(w[0].0));
        }
        ix.inv_norm = (0..=max_tags)
            .map(|k| if k == 0 { 0.0 } else { 1.0 / (k as f64).sqrt() })
            .collect();
        Ok(ix)
    }

    /// Number of songs indexed (labelled or not).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of songs in one emotion's library.
    pub fn library_len(&self, emotion: Emotion) -> usize {
        self.bucket(emotion.index()).len()
    }

    /// Number of distinct tags (compared ignoring case).
    pub fn tag_count(&self) -> usize {
        self.tag_names.len()
    }

    /// Bytes the index holds on the heap (capacity of its arrays and strings, hash
    /// tables estimated from their capacity).
    pub fn heap_bytes(&self) -> usize {
        fn vec<T>(v: &Vec<T>) -> usize {
            v.capacity() * size_of::<T>()
        }
        fn strings(v: &Vec<String>) -> usize {
            vec(v) + v.iter().map(String::capacity).sum::<usize>()
        }
        fn map(m: &HashMap<String, u32>) -> usize {
            // hashbrown: one control byte per bucket plus the (key, value) slots.
            m.capacity() * (size_of::<(String, u32)>() + 1)
                + m.keys().map(String::capacity).sum::<usize>()
        }
        let titles: usize = self.titles.iter().map(|t| t.len()).sum();
        let drivers: usize = self
            .drivers
            .iter()
            .map(|d| d.len() * size_of::<Box<str>>() + d.iter().map(|s| s.len()).sum::<usize>())
            .sum();
        strings(&self.tag_names)
            + map(&self.tag_lookup)
            + strings(&self.artist_names)
            + map(&self.artist_lookup)
            + vec(&self.ids)
            + vec(&self.titles)
            + titles
            + vec(&self.artists)
            + vec(&self.confidence)
            + vec(&self.manual)
            + vec(&self.drivers)
            + drivers
            + vec(&self.offsets)
            + vec(&self.tags)
            + vec(&self.inv_norm)
            + vec(&self.by_id)
    }

    /// True for the interned empty artist name ("unknown").
    fn unknown_artist(&self, artist: u32) -> bool {
        self.artist_names[artist as usize].is_empty()
    }

    fn bucket(&self, b: usize) -> Range<usize> {
        self.bucket_start[b] as usize..self.bucket_start[b + 1] as usize
    }

    fn position(&self, id: i64) -> Option<u32> {
        self.by_id
            .binary_search_by_key(&id, |&(i, _)| i)
            .ok()
            .map(|k| self.by_id[k].1)
    }

    fn bucket_of(&self, pos: usize) -> usize {
        // bucket_start is sorted; the bucket is the last start <= pos.
        self.bucket_start[1..].partition_point(|&s| s as usize <= pos)
    }

    fn emotion_of(&self, pos: usize) -> Option<Emotion> {
        Emotion::from_index(self.bucket_of(pos))
    }

    fn song_tags(&self, pos: usize) -> &[u32] {
        &self.tags[self.offsets[pos] as usize..self.offsets[pos + 1] as usize]
    }

    /// The stored song with this id.
    pub fn song(&self, id: i64) -> Option<SongInfo<'_>> {
        let pos = self.position(id)? as usize;
        Some(SongInfo {
            id,
            title: &self.titles[pos],
            artist: &self.artist_names[self.artists[pos] as usize],
            emotion: self.emotion_of(pos),
            tags: self
                .song_tags(pos)
                .iter()
                .map(|&t| self.tag_names[t as usize].as_str())
                .collect(),
            confidence: self.confidence[pos],
            manual: self.manual[pos],
            drivers: self.drivers[pos].iter().map(|d| &**d).collect(),
        })
    }

    fn build_profile(&self, emotion: Emotion, taste: &Taste) -> (Profile, ProfileSummary) {
        let mut weights = vec![0f32; self.tag_names.len()];
        let mut summary = ProfileSummary {
            emotion,
            weights: Vec::new(),
            picks: Vec::new(),
            missing_picks: Vec::new(),
            off_library_picks: Vec::new(),
            likes: 0,
            skips: 0,
        };
        let mut picks = Vec::new();
        for &id in taste.picks(emotion) {
            if summary.picks.contains(&id) || summary.missing_picks.contains(&id) {
                continue; // the same song picked twice counts once
            }
            let Some(pos) = self.position(id) else {
                summary.missing_picks.push(id);
                continue;
            };
            summary.picks.push(id);
            picks.push(pos);
            if self.emotion_of(pos as usize) != Some(emotion) {
                summary.off_library_picks.push(id);
            }
            for &t in self.song_tags(pos as usize) {
                weights[t as usize] += 1.0;
            }
        }
        // Feedback shapes the profile of the library the song belongs to.
        for f in taste.feedback() {
            let Some(pos) = self.position(f.song_id) else {
                continue;
            };
            if self.emotion_of(pos as usize) != Some(emotion) {
                continue;
            }
            let delta = match f.kind {
                FeedbackKind::Like => {
                    summary.likes += 1;
                    LIKE_WEIGHT
                }
                FeedbackKind::Skip => {
                    summary.skips += 1;
                    -SKIP_WEIGHT
                }
            };
            for &t in self.song_tags(pos as usize) {
                weights[t as usize] += delta;
            }
        }
        // Clamp after summing, so the result does not depend on feedback order.
        let mut norm2 = 0f64;
        for w in &mut weights {
            *w = w.max(0.0);
            norm2 += f64::from(*w) * f64::from(*w);
        }
        let mut named: Vec<(String, f32)> = weights
            .iter()
            .enumerate()
            .filter(|(_, &w)| w > 0.0)
            .map(|(t, &w)| (self.tag_names[t].clone(), w))
            .collect();
        named.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| title_cmp(&a.0, &b.0)));
        summary.weights = named;
        let inv_norm = if norm2 > 0.0 { 1.0 / norm2.sqrt() } else { 0.0 };
        (
            Profile {
                weights,
                inv_norm,
                picks,
            },
            summary,
        )
    }

    /// The user's taste vector for one emotion, for display.
    pub fn profile(&self, emotion: Emotion, taste: &Taste) -> ProfileSummary {
        self.build_profile(emotion, taste).1
    }

    /// Skips since each song's last like: each halves the song's score.
    fn demotions(&self, taste: &Taste) -> HashMap<u32, u32> {
        let mut net: HashMap<u32, u32> = HashMap::new();
        for f in taste.feedback() {
            let Some(pos) = self.position(f.song_id) else {
                continue;
            };
            match f.kind {
                FeedbackKind::Like => {
                    net.remove(&pos);
                }
                FeedbackKind::Skip => *net.entry(pos).or_default() += 1,
            }
        }
        net
    }

    /// Best first: higher key, then title, then id.
    fn rank_cmp(&self, a: &(u64, u32), b: &(u64, u32)) -> Ordering {
        b.0.cmp(&a.0)
            .then_with(|| title_cmp(&self.titles[a.1 as usize], &self.titles[b.1 as usize]))
            .then_with(|| self.ids[a.1 as usize].cmp(&self.ids[b.1 as usize]))
    }

    /// The best `k` of a range by `key_of`, in rank order. `adjust` sees only songs whose
    /// key could still make the cut and may drop (`None`) or lower a key, never raise it.
    fn top_k(
        &self,
        range: Range<usize>,
        k: usize,
        key_of: impl Fn(usize) -> u64,
        adjust: impl Fn(usize, u64) -> Option<u64>,
    ) -> Vec<(u64, u32)> {
        // More than the range holds can never be returned (and 2k must not overflow).
        let k = k.min(range.len());
        if k == 0 {
            return Vec::new();
        }
        // Collect candidates that beat the current k-th best; whenever the buffer fills,
        // keep the best k (linear-time selection) and raise the bar. Amortised O(n).
        let cap = 2 * k + 64;
        let mut buf: Vec<(u64, u32)> = Vec::with_capacity(cap.min(range.len()) + 1);
        // The current k-th best (once known): a song must rank before it to be kept.
        // Songs tied with it on score compare by title here, rather than filling the
        // buffer, which matters when many songs share a score.
        let mut bar: Option<(u64, u32)> = None;
        let beats = |bar: &Option<(u64, u32)>, key: u64, i: usize| match bar {
            None => true,
            Some(b) => key > b.0 || (key == b.0 && self.rank_cmp(&(key, i as u32), b).is_lt()),
        };
        for i in range {
            let key = key_of(i);
            if !beats(&bar, key, i) {
                continue;
            }
            let Some(key) = adjust(i, key) else { continue };
            if !beats(&bar, key, i) {
                continue;
            }
            buf.push((key, i as u32));
            if buf.len() >= cap {
                buf.select_nth_unstable_by(k - 1, |a, b| self.rank_cmp(a, b));
                buf.truncate(k);
                bar = Some(buf[k - 1]);
            }
        }
        buf.sort_unstable_by(|a, b| self.rank_cmp(a, b));
        buf.truncate(k);
        buf
    }

    /// Ranks one library: cosine with the profile, or label confidence on cold start.
    fn rank_library(
        &self,
        emotion: Emotion,
        profile: &Profile,
        exclude: &HashSet<u32>,
        demote: &HashMap<u32, u32>,
        k: usize,
    ) -> Vec<(u64, u32)> {
        let range = self.bucket(emotion.index());
        let adjust = |i: usize, key: u64| -> Option<u64> {
            let pos = i as u32;
            if exclude.contains(&pos) {
                return None;
            }
            match demote.get(&pos) {
                Some(&n) => {
                    let score = key_score(key) as f64 * f64::from(SKIP_DEMOTION).powi(n as i32);
                    // A skipped song also loses the manual tier of cold start.
                    Some(quantize(score))
                }
                None => Some(key),
            }
        };
        if profile.inv_norm > 0.0 {
            let w = &profile.weights;
            let pn = profile.inv_norm;
            self.top_k(
                range,
                k,
                |i| {
                    let tags = self.song_tags(i);
                    // Exact for the weights used (sums of multiples of 0.5).
                    let dot: f32 = tags.iter().map(|&t| w[t as usize]).sum();
                    quantize(f64::from(dot) * self.inv_norm[tags.len()] * pn)
                },
                adjust,
            )
        } else {
            self.top_k(
                range,
                k,
                |i| {
                    let tier = if self.manual[i] { MANUAL_TIER } else { 0 };
                    tier | quantize(f64::from(self.confidence[i]))
                },
                adjust,
            )
        }
    }

    /// Recommends up to `request.limit` songs; fewer when the libraries run out (songs
    /// already played in `session` and the picks themselves are never recommended).
    pub fn recommend(
        &self,
        request: &Request,
        taste: &Taste,
        session: &Session,
    ) -> Vec<Recommendation> {
        let steps = plan::steps(request.emotion, request.strategy);
        // No more songs than the index holds can come back; capping keeps a huge limit
        // from costing time or memory.
        let limit = request.limit.min(self.len());
        let counts = plan::step_counts(request.emotion, request.strategy, limit);
        let demote = self.demotions(taste);
        let played: HashSet<u32> = session
            .played
            .iter()
            .filter_map(|&id| self.position(id))
            .collect();
        // An artist the index does not know, or an empty one, clashes with no song.
        let mut last_artist: Option<u32> = session
            .last_artist()
            .and_then(|a| self.artist_lookup.get(&normalize(a)).copied())
            .filter(|&a| !self.unknown_artist(a));
        let mut out = Vec::with_capacity(limit);
        let mut carry = 0usize;
        for (si, &emotion) in steps.iter().enumerate() {
            let want = counts[si] + carry;
            if want == 0 {
                continue;
            }
            let (profile, summary) = self.build_profile(emotion, taste);
            let mut exclude = played.clone();
            exclude.extend(profile.picks.iter().copied());
            let available = self.library_len(emotion);
            let chosen: Vec<(u64, u32)> = if request.separate_artists {
                // Rank a larger pool so another artist is at hand; grow it only if a
                // repeat was forced and more songs exist.
                let mut pool = want.saturating_mul(3).saturating_add(16);
                loop {
                    let ranked = self.rank_library(emotion, &profile, &exclude, &demote, pool);
                    // Songs with no artist get ids of their own (from the top of the
                    // u32 range): "unknown" is not one artist.
                    let artists: Vec<u32> = ranked
                        .iter()
                        .enumerate()
                        .map(|(k, r)| match self.artists[r.1 as usize] {
                            a if self.unknown_artist(a) => u32::MAX - k as u32,
                            a => a,
                        })
                        .collect();
                    let (order, forced) = separate(&artists, want, last_artist);
                    if !forced || pool >= available {
                        break order.into_iter().map(|i| ranked[i]).collect();
                    }
                    pool = pool.saturating_mul(4);
                }
            } else {
                self.rank_library(emotion, &profile, &exclude, &demote, want)
            };
            carry = want - chosen.len();
            let cold = profile.inv_norm <= 0.0;
            for (key, pos) in chosen {
                let pos = pos as usize;
                last_artist = Some(self.artists[pos]).filter(|&a| !self.unknown_artist(a));
                out.push(self.explain(
                    pos,
                    key_score(key),
                    emotion,
                    &profile,
                    &summary,
                    cold,
                    (si + 1, steps.len()),
                    demote.get(&(pos as u32)).copied().unwrap_or(0),
                ));
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn explain(
        &self,
        pos: usize,
        score: f32,
        emotion: Emotion,
        profile: &Profile,
        summary: &ProfileSummary,
        cold: bool,
        (step, steps): (usize, usize),
        skips: u32,
    ) -> Recommendation {
        let mut shared: Vec<u32> = self
            .song_tags(pos)
            .iter()
            .copied()
            .filter(|&t| profile.weights[t as usize] > 0.0)
            .collect();
        shared.sort_by(|&a, &b| {
            profile.weights[b as usize]
                .total_cmp(&profile.weights[a as usize])
                .then_with(|| title_cmp(&self.tag_names[a as usize], &self.tag_names[b as usize]))
        });
        let shared_tags: Vec<String> = shared
            .iter()
            .map(|&t| self.tag_names[t as usize].clone())
            .collect();
        let manual = self.manual[pos];
        let drivers: Vec<String> = if manual {
            Vec::new()
        } else {
            self.drivers[pos].iter().map(|d| d.to_string()).collect()
        };
        let e = emotion.key();
        let mut text = String::new();
        if steps > 1 {
            text.push_str(&format!("lift step {step}/{steps} ({e}): "));
        }
        if cold {
            // An empty profile has three causes, each with its own remedy.
            let why = if summary.picks.is_empty() {
                format!("no typical {e} songs picked yet")
            } else if profile
                .picks
                .iter()
                .all(|&p| self.song_tags(p as usize).is_empty())
            {
                format!("your typical {e} songs have no tags to match")
            } else {
                format!("your skips outweigh the tags of your typical {e} songs")
            };
            text.push_str(&format!("{why}, so ranked by label: "));
            if manual {
                text.push_str(&format!("you labelled it {e}"));
            } else {
                text.push_str(&format!(
                    "classified {e} with confidence {:.2}",
                    self.confidence[pos]
                ));
            }
        } else {
            let whose = if summary.picks.is_empty() {
                "liked"
            } else {
                "typical"
            };
            if shared_tags.is_empty() {
                text.push_str(&format!("no tags in common with your {whose} {e} songs"));
            } else {
                text.push_str(&format!(
                    "shares {} with your {whose} {e} songs",
                    shared_tags.join(", ")
                ));
            }
            text.push_str(&format!(" (similarity {score:.3})"));
        }
        if !drivers.is_empty() {
            let words: Vec<&str> = drivers.iter().take(6).map(String::as_str).collect();
            // Lyric words, audio cues or mood tags: whatever drove the prediction.
            text.push_str(&format!("; {e} because: {}", words.join(", ")));
        }
        if skips > 0 {
            let times = if skips == 1 { "once" } else { "several times" };
            text.push_str(&format!("; demoted: you skipped it {times}"));
        }
        Recommendation {
            id: self.ids[pos],
            title: self.titles[pos].to_string(),
            artist: self.artist_names[self.artists[pos] as usize].clone(),
            emotion,
            score,
            cold_start: cold,
            step,
            steps,
            shared_tags,
            drivers,
            manual_label: manual,
            skips,
            explanation: text,
        }
    }
}
