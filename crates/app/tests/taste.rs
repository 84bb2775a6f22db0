//! Picks and feedback given by song names reach the recommender as SPEC.md ranks them.

use moodtune_app::playlist::{candidate, Recommender};
use moodtune_app::taste;
use moodtune_core::Emotion;
use moodtune_library::{Library, NewSong, PredictedEmotion};
use moodtune_recommend::{Request, Session};

/// The SPEC.md worked example, manually labelled Happy, one artist per song.
fn spec_library() -> Library {
    let mut lib = Library::open_in_memory().unwrap();
    for (i, (title, tags)) in moodtune_recommend::WORKED_EXAMPLE_SONGS.iter().enumerate() {
        let song = NewSong::new(*title, format!("artist {i}"))
            .tags(tags.iter().copied())
            .emotion(Emotion::Happy);
        lib.add_song(&song).unwrap();
    }
    lib
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn picks_by_title_reproduce_the_spec_ranking() {
    let mut lib = spec_library();
    taste::set_picks(
        &mut lib,
        Emotion::Happy,
        false,
        &names(&["Back wave", "rise", "LANTERNS"]),
    )
    .unwrap();
    let rec = Recommender::load(&lib).unwrap();
    let (index, taste) = (rec.index(), rec.taste());
    let recs = index.recommend(
        &Request::new(Emotion::Happy).limit(3),
        taste,
        &Session::new(),
    );
    let got: Vec<(&str, String)> = recs
        .iter()
        .map(|r| (r.title.as_str(), format!("{:.3}", r.score)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Brass", "0.972".into()),
            ("PDD", "0.816".into()),
            ("All in", "0.625".into())
        ]
    );
    // Manual labels: no lyric words, and the explanation names the shared tags.
    assert!(recs[0].manual_label && recs[0].drivers.is_empty());
    assert!(recs[0].explanation.contains("Keyboard"));
}

#[test]
fn an_unknown_song_changes_no_picks() {
    let mut lib = spec_library();
    taste::set_picks(&mut lib, Emotion::Happy, false, &names(&["Rise"])).unwrap();
    let err = taste::set_picks(
        &mut lib,
        Emotion::Happy,
        false,
        &names(&["Brass", "No Such Song"]),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("No Such Song"), "{err:#}");
    let rise = lib.find("Rise").unwrap().id;
    assert_eq!(lib.picks(Emotion::Happy).unwrap(), vec![rise]);
    // `add` keeps the earlier picks.
    taste::set_picks(&mut lib, Emotion::Happy, true, &names(&["Brass"])).unwrap();
    assert_eq!(lib.picks(Emotion::Happy).unwrap().len(), 2);
}

#[test]
fn like_and_skip_are_stored_and_reach_the_recommender() {
    let mut lib = spec_library();
    taste::record_feedback(
        &mut lib,
        &names(&["Temptation"]),
        &names(&["Light"]),
        Some(Emotion::Happy),
    )
    .unwrap();
    assert_eq!(lib.feedback().unwrap().len(), 2);
    let rec = Recommender::load(&lib).unwrap();
    let (index, taste) = (rec.index(), rec.taste());
    assert_eq!(taste.feedback().len(), 2);
    // No picks: the Happy profile is Cheerful 1 (like) - 0.5 (skip) = 0.5, so songs
    // with Cheerful rank first; Light is demoted below the other Cheerful-only song.
    let p = index.profile(Emotion::Happy, taste);
    assert_eq!(p.weights, vec![("Cheerful".to_string(), 0.5)]);
    let recs = index.recommend(
        &Request::new(Emotion::Happy).limit(20),
        taste,
        &Session::new(),
    );
    let pos = |t: &str| recs.iter().position(|r| r.title == t).unwrap();
    assert!(pos("Temptation") < pos("Light"));
    // Songs without Cheerful score 0 and come last, in title order.
    let tail: Vec<&str> = recs[recs.len() - 2..]
        .iter()
        .map(|r| r.title.as_str())
        .collect();
    assert_eq!(tail, vec!["Adventures", "Rise"]);

    // A bad song name is an error that names it, and records nothing more, not even
    // the good names given with it.
    let err = taste::record_feedback(
        &mut lib,
        &names(&["Temptation", "Nope"]),
        &names(&["Light"]),
        None,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("Nope"));
    assert_eq!(lib.feedback().unwrap().len(), 2);
}

#[test]
fn predicted_labels_carry_confidence_and_words_manual_ones_do_not() {
    let mut lib = Library::open_in_memory().unwrap();
    let id = lib
        .add_song(&NewSong::new("Sun", "A").tags(["Bright"]))
        .unwrap();
    let p = PredictedEmotion {
        emotion: Emotion::Happy,
        confidence: 0.75,
        model_version: "test".into(),
        drivers: vec!["sunshine".into()],
        sources: vec![],
    };
    lib.set_prediction(id, Some(&p)).unwrap();
    let c = candidate(lib.song(id).unwrap().unwrap());
    assert_eq!(
        (c.emotion, c.confidence, c.manual),
        (Some(Emotion::Happy), 0.75, false)
    );
    assert_eq!(c.drivers, vec!["sunshine"]);
    lib.set_manual_emotion(id, Some(Emotion::Sad)).unwrap();
    let c = candidate(lib.song(id).unwrap().unwrap());
    assert_eq!(
        (c.emotion, c.confidence, c.manual),
        (Some(Emotion::Sad), 1.0, true)
    );
    assert!(c.drivers.is_empty());
}
