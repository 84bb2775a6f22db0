//! What the integration tests share.

/// FER2013's PublicTest faces from ../shared beside the checkout (as in CI), or `None`
/// with the note `moodtune_testkit::missing` gives (a failure in CI).
pub fn public_test() -> Option<moodtune_fer::Dataset> {
    let csv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/fer2013/fer2013.csv.gz");
    if !csv.exists() {
        moodtune_testkit::missing(
            &csv.display().to_string(),
            "FER2013 lives in ../shared/data",
        );
        return None;
    }
    let opts = moodtune_fer::LoadOptions {
        usages: vec![moodtune_fer::Usage::PublicTest],
        ..Default::default()
    };
    Some(moodtune_fer::Dataset::load(&csv, &opts).unwrap())
}
