//! Tests render every figure into a temp folder, decode it again with `image` and check
//! its size, that it is not blank, and the pixels that carry meaning.

use super::*;
use crate::confusion::{heat, CELL, X0, Y0};
use crate::curves::{EMA, TRAIN, VAL};
use crate::examples::{choose, face_origin, WRONG};
use moodtune_fer::data::{PIXELS, SIDE};
use rand::{Rng, SeedableRng};

/// Cartoon faces: a bright oval on a gradient, eyes, and a mouth whose curve depends on
/// the class, plus noise, so the grid looks like faces and every image differs.
fn synthetic_dataset(per_class: &[usize; 7], seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut ds = Dataset::default();
    for e in Emotion::ALL {
        for _ in 0..per_class[e.index()] {
            // Mouth corners up (negative) for positive classes, down for negative ones.
            let curve = match e.valence() {
                moodtune_core::Valence::Positive => -1.0,
                moodtune_core::Valence::Neutral => 0.0,
                moodtune_core::Valence::Negative => 0.7,
            };
            let shift: f32 = rng.gen_range(-3.0..3.0);
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let (fx, fy) = (x as f32 - 24.0 - shift, y as f32 - 24.0);
                    let mut v = 40.0 + y as f32 * 1.5;
                    if (fx / 17.0).powi(2) + (fy / 21.0).powi(2) < 1.0 {
                        v = 185.0;
                    }
                    let eye = |cx: f32| (fx - cx).powi(2) + (fy + 6.0).powi(2) < 7.0;
                    if eye(-7.0) || eye(7.0) {
                        v = 30.0;
                    }
                    let mouth_y = 10.0 + curve * (fx / 8.0).powi(2) * 3.0;
                    if fx.abs() < 8.0 && (fy - mouth_y).abs() < 1.3 {
                        v = 50.0;
                    }
                    v += rng.gen_range(-12.0..12.0);
                    ds.images.push(v.clamp(0.0, 255.0) as u8);
                }
            }
            ds.labels.push(e);
        }
    }
    ds
}

/// Predictions right for ~70% of images; Disgust mostly called Angry.
fn synthetic_predictions(ds: &Dataset, seed: u64) -> Vec<[f32; 7]> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    ds.labels
        .iter()
        .map(|l| {
            let mut p = [0.02f32; 7];
            let pred = if *l == Emotion::Disgust && rng.gen_bool(0.6) {
                0
            } else if rng.gen_bool(0.7) {
                l.index()
            } else {
                rng.gen_range(0..7)
            };
            p[pred] = 0.88;
            p
        })
        .collect()
}

fn records(n: usize) -> Vec<EpochRecord> {
    (1..=n)
        .map(|e| {
            let t = e as f64;
            EpochRecord {
                epoch: e,
                train_loss: 1.9 * (-t / 12.0).exp() + 0.4,
                train_acc: 0.75 - 0.5 * (-t / 10.0).exp(),
                val_loss: 1.7 * (-t / 10.0).exp() + 0.9 + 0.004 * t,
                val_acc: 0.63 - 0.38 * (-t / 8.0).exp(),
                ema_val_loss: f64::NAN,
                ema_val_acc: f64::NAN,
            }
        })
        .collect()
}

fn load(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()))
        .to_rgb8()
}

fn assert_not_blank(img: &image::RgbImage) {
    let n = img.pixels().len() as f64;
    let luma: Vec<f64> = img
        .pixels()
        .map(|p| (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0)
        .collect();
    let mean = luma.iter().sum::<f64>() / n;
    let var = luma.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    assert!(var > 10.0, "image looks blank (variance {var})");
}

fn count_color(img: &image::RgbImage, c: RGBColor) -> usize {
    img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count()
}

/// Pixels close to `c` right of `from_x`: text is anti-aliased, so only a few pixels hit its colour exactly.
fn count_near(img: &image::RgbImage, c: RGBColor, from_x: u32) -> usize {
    img.enumerate_pixels()
        .filter(|(x, _, _)| *x >= from_x)
        .filter(|(_, _, p)| {
            let d = |a: u8, b: u8| (a as i32 - b as i32).abs();
            d(p[0], c.0) + d(p[1], c.1) + d(p[2], c.2) < 60
        })
        .count()
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn curves_have_both_lines() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("curves.png");
    curves_png(&records(30), &p).unwrap();
    let img = load(&p);
    assert_eq!(img.dimensions(), CURVES_SIZE);
    assert_not_blank(&img);
    assert!(count_color(&img, TRAIN) > 200, "train line missing");
    assert!(count_color(&img, VAL) > 200, "validation line missing");
    // Only the figure itself is left in the folder: the temp file was renamed.
    assert_eq!(dir_entries(d.path()), vec!["curves.png"]);
    // The mode of any new file here (0666 less the umask), not the temp file's 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode();
        let plain = d.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        assert_eq!(mode(&p) & 0o777, mode(&plain) & 0o777);
        std::fs::remove_file(&plain).unwrap();
    }
}

#[test]
fn a_run_with_a_weight_average_gets_a_third_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("curves.png");
    curves_png(&records(20), &p).unwrap();
    assert_eq!(count_color(&load(&p), EMA), 0, "no average, no line");
    let with_average: Vec<EpochRecord> = records(20)
        .into_iter()
        .map(|r| EpochRecord {
            ema_val_loss: r.val_loss - 0.05,
            ema_val_acc: r.val_acc + 0.02,
            ..r
        })
        .collect();
    curves_png(&with_average, &p).unwrap();
    let img = load(&p);
    assert!(count_color(&img, EMA) > 200, "weight-average line missing");
    assert!(count_color(&img, VAL) > 200, "validation line missing");
}

#[test]
fn curves_cope_with_one_epoch_duplicates_and_nan() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("one.png");
    curves_png(&records(1), &p).unwrap();
    let img = load(&p);
    assert!(count_color(&img, TRAIN) > 10 && count_color(&img, VAL) > 10);

    let mut r = records(6);
    r[2].train_loss = f64::NAN;
    r[3].val_loss = f64::INFINITY;
    r.push(records(6)[1]); // a resumed run repeating epoch 2
    r.swap(0, 4);
    curves_png(&r, &p).unwrap();
    // The finite points still draw both curves: the NaN and the infinity neither
    // flatten the axes nor drop the lines.
    let img = load(&p);
    assert_not_blank(&img);
    assert!(count_color(&img, TRAIN) > 200, "training line missing");
    assert!(count_color(&img, VAL) > 200, "validation line missing");

    let err = curves_png(&[], &p).unwrap_err().to_string();
    assert!(err.contains("no epoch records"), "{err}");
}

#[test]
fn confusion_cells_are_shaded_by_row_share() {
    use Emotion::*;
    // Happy always right, Angry half right / half called Sad, Fear never present.
    let labels = [Happy, Happy, Angry, Angry, Sad, Neutral];
    let one = |i: usize| {
        let mut p = [0.0f32; 7];
        p[i] = 1.0;
        p
    };
    let probs = [one(3), one(3), one(0), one(4), one(4), one(6)];
    let eval = Evaluation::new(&labels, &probs);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c.png");
    confusion_png(&eval, &p).unwrap();
    let img = load(&p);
    assert_eq!(img.dimensions(), CONFUSION_SIZE);
    assert_not_blank(&img);
    // Sample each cell near its top-left corner, clear of text and grid lines.
    let cell = |r: i32, c: i32| {
        img.get_pixel((X0 + c * CELL + 6) as u32, (Y0 + r * CELL + 6) as u32)
            .0
    };
    let rgb = |c: RGBColor| [c.0, c.1, c.2];
    assert_eq!(cell(3, 3), rgb(heat(1.0)));
    assert_eq!(cell(3, 4), rgb(heat(0.0)));
    assert_eq!(cell(0, 0), rgb(heat(0.5)));
    assert_eq!(cell(0, 4), rgb(heat(0.5)));
    assert_eq!(
        cell(2, 2),
        [225, 225, 225],
        "a class without samples is grey"
    );
}

#[test]
fn histogram_bars_follow_counts() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("h.png");
    let counts = [100, 0, 50, 400, 200, 120, 300];
    label_histogram_png(&counts, "Labels (synthetic)", &p).unwrap();
    let img = load(&p);
    assert_eq!(img.dimensions(), HISTOGRAM_SIZE);
    assert_not_blank(&img);
    let area = |e| count_color(&img, class_color(e)) as f64;
    let ratio = area(Emotion::Happy) / area(Emotion::Angry);
    assert!(
        (3.6..4.4).contains(&ratio),
        "Happy/Angry bar area ratio {ratio}"
    );
    let ratio = area(Emotion::Neutral) / area(Emotion::Fear);
    assert!(
        (5.4..6.6).contains(&ratio),
        "Neutral/Fear bar area ratio {ratio}"
    );
    assert!(area(Emotion::Disgust) < area(Emotion::Fear) / 20.0);
    // All zero still draws (axes, names), it is not an error.
    label_histogram_png(&[0; 7], "empty", &p).unwrap();
    assert_not_blank(&load(&p));
}

#[test]
fn example_grid_shows_the_chosen_faces_at_twice_their_size() {
    let ds = synthetic_dataset(&[5, 2, 5, 5, 5, 5, 5], 1);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("ex.png");
    examples_grid_png(&ds, None, 4, 9, &p).unwrap();
    let img = load(&p);
    assert_eq!(img.dimensions(), examples_grid_size(4));
    assert_not_blank(&img);
    let chosen = choose(&ds, 4, 9);
    assert_eq!(
        chosen.iter().map(Vec::len).collect::<Vec<_>>(),
        [4, 2, 4, 4, 4, 4, 4]
    );
    for (row, picks) in chosen.iter().enumerate() {
        for (col, &i) in picks.iter().enumerate() {
            assert_eq!(ds.labels[i].index(), row);
            let (fx, fy) = face_origin(row, col);
            for (x, y) in [(0, 0), (13, 40), (47, 47), (30, 5)] {
                let v = ds.image(i)[y * SIDE + x];
                for (dx, dy) in [(0, 0), (1, 1)] {
                    let px =
                        img.get_pixel(fx as u32 + 2 * x as u32 + dx, fy as u32 + 2 * y as u32 + dy);
                    assert_eq!(px.0, [v, v, v], "face {i} pixel ({x},{y})");
                }
            }
        }
    }
    // Seeded: the same seed gives the same picture, another seed another choice.
    let p2 = d.path().join("ex2.png");
    examples_grid_png(&ds, None, 4, 9, &p2).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&p2).unwrap());
    assert_ne!(choose(&ds, 4, 9), choose(&ds, 4, 10));
}

#[test]
fn wrong_predictions_are_red() {
    let ds = synthetic_dataset(&[3; 7], 2);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("ex.png");
    let right: Vec<[f32; 7]> = ds
        .labels
        .iter()
        .map(|l| {
            let mut p = [0.0; 7];
            p[l.index()] = 0.9;
            p
        })
        .collect();
    examples_grid_png(&ds, Some(&right), 3, 0, &p).unwrap();
    assert_eq!(count_near(&load(&p), WRONG, 124), 0);
    let mut wrong = right.clone();
    wrong[0] = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9]; // an Angry face called Neutral
    examples_grid_png(&ds, Some(&wrong), 3, 0, &p).unwrap();
    assert!(count_near(&load(&p), WRONG, 124) > 20);

    let err = examples_grid_png(&ds, Some(&wrong[1..]), 3, 0, &p).unwrap_err();
    assert!(
        err.to_string().contains("20 predictions for 21 images"),
        "{err}"
    );
    assert!(examples_grid_png(&ds, None, 0, 0, &p).is_err());
    assert!(examples_grid_png(&ds, None, MAX_PER_CLASS + 1, 0, &p).is_err());
    assert!(examples_grid_png(&Dataset::default(), None, 3, 0, &p).is_err());
}

#[test]
fn write_all_writes_what_the_inputs_allow() {
    let ds = synthetic_dataset(&[4, 1, 4, 6, 4, 3, 5], 3);
    let preds = synthetic_predictions(&ds, 4);
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("figs");
    let recs = records(12);
    let written = write_all(&out, Some(&recs), None, &ds, Some(&preds)).unwrap();
    let names: Vec<_> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["curves.png", "confusion.png", "labels.png", "examples.png"]
    );
    for p in &written {
        assert_not_blank(&load(p));
    }
    assert_eq!(load(&written[3]).dimensions(), examples_grid_size(8));
    assert_eq!(
        dir_entries(&out),
        ["confusion.png", "curves.png", "examples.png", "labels.png"]
    );

    let only = d.path().join("only");
    let written = write_all(&only, None, None, &ds, None).unwrap();
    assert_eq!(
        written,
        vec![only.join("labels.png"), only.join("examples.png")]
    );
}

#[test]
fn unwritable_paths_are_errors_naming_the_path() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("no-such-folder").join("c.png");
    let err = format!("{:#}", curves_png(&records(3), &missing).unwrap_err());
    assert!(err.contains("no-such-folder/c.png"), "{err}");
    // A folder where the file should go: the rename fails, no temp file is left behind.
    let taken = d.path().join("taken.png");
    std::fs::create_dir(&taken).unwrap();
    let err = format!(
        "{:#}",
        label_histogram_png(&[1; 7], "x", &taken).unwrap_err()
    );
    assert!(err.contains("taken.png"), "{err}");
    assert_eq!(dir_entries(d.path()), ["taken.png"]);
    // write_all cannot create its folder under a file.
    let file = d.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let ds = synthetic_dataset(&[1; 7], 5);
    let err = format!(
        "{:#}",
        write_all(&file.join("sub"), None, None, &ds, None).unwrap_err()
    );
    assert!(err.contains("file/sub"), "{err}");
}

#[test]
fn dataset_helper_is_sane() {
    let ds = synthetic_dataset(&[2; 7], 6);
    assert_eq!(ds.images.len(), 14 * PIXELS);
    assert_ne!(ds.image(0), ds.image(1));
}

/// Renders a realistic-looking set for a person to inspect:
/// `MOODTUNE_FIGURES=/tmp/figs cargo test -p moodtune-fer-report -- --ignored demo`
#[test]
#[ignore]
fn demo_figures() {
    let dir =
        PathBuf::from(std::env::var("MOODTUNE_FIGURES").unwrap_or("/tmp/moodtune-figures".into()));
    let ds = synthetic_dataset(&[40, 6, 40, 70, 45, 30, 50], 7);
    let preds = synthetic_predictions(&ds, 8);
    let recs = records(60);
    for p in write_all(&dir, Some(&recs), None, &ds, Some(&preds)).unwrap() {
        eprintln!("wrote {}", p.display());
    }
    curves_png(&records(1), &dir.join("curves-1.png")).unwrap();
    examples_grid_png(&ds, None, 2, 1, &dir.join("examples-2.png")).unwrap();
}

/// The same on real data, for a person to inspect: 400 PublicTest faces of FER2013 (from
/// ../shared beside the checkout) predicted by the shipped model, plus the curves of
/// `MOODTUNE_METRICS` when set.
/// `MOODTUNE_FIGURES=/tmp/real cargo test -p moodtune-fer-report -- --ignored real_data`
#[test]
#[ignore]
fn real_data_figures() {
    let csv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fer2013/fer2013.csv.gz");
    if !csv.exists() {
        moodtune_testkit::missing(
            &csv.display().to_string(),
            "FER2013 lives in ../shared/data",
        );
        return;
    }
    let dir = PathBuf::from(
        std::env::var("MOODTUNE_FIGURES").unwrap_or("/tmp/moodtune-figures-real".into()),
    );
    let opts = moodtune_fer::LoadOptions {
        usages: vec![moodtune_fer::Usage::PublicTest],
        ..Default::default()
    };
    let ds = Dataset::load(&csv, &opts).unwrap().sample(400, 1);
    let preds = moodtune_fer::Classifier::shipped()
        .unwrap()
        .predict_dataset(&ds);
    let recs = std::env::var("MOODTUNE_METRICS")
        .ok()
        .map(|p| read_metrics(Path::new(&p)).unwrap());
    for p in write_all(&dir, recs.as_deref(), None, &ds, Some(&preds)).unwrap() {
        eprintln!("wrote {}", p.display());
    }
}
