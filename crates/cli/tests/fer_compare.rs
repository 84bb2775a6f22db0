//! `moodtune fer compare` and `fer calibrate` end to end on a small generated
//! FER2013-style CSV: the baselines train, the shipped CNN is scored, the table lands in
//! the results file's generated section (replaced, not duplicated, on a second run), and
//! malformed data is a clear error naming the file and line; calibration writes the
//! temperature it prints.

use std::fmt::Write as _;
use std::process::Command;

/// A CSV whose faces' class is the orientation of a noisy stripe pattern.
fn stripes_csv(train_per_class: usize, test_per_class: usize) -> String {
    let mut csv = String::from("emotion,pixels,Usage\n");
    let mut state = 12345u32;
    let mut noise = move || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        ((state >> 16) % 60) as f32 - 30.0
    };
    for (usage, n) in [
        ("Training", train_per_class),
        ("PublicTest", test_per_class),
    ] {
        for k in 0..7 {
            let theta = std::f32::consts::PI * k as f32 / 7.0;
            for j in 0..n {
                let pixels: Vec<String> = (0..48 * 48)
                    .map(|i| {
                        let (x, y) = ((i % 48) as f32, (i / 48) as f32);
                        let t = (x * theta.cos() + y * theta.sin()) * 0.9 + j as f32;
                        ((128.0 + 70.0 * t.sin() + noise()).clamp(0.0, 255.0) as u8).to_string()
                    })
                    .collect();
                writeln!(csv, "{k},{},{usage}", pixels.join(" ")).unwrap();
            }
        }
    }
    csv
}

fn moodtune(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_moodtune"))
        .args(args)
        .output()
        .expect("run moodtune")
}

/// The standard output of a run that must have succeeded (else its output is the message).
fn succeeded(run: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    stdout
}

#[test]
fn compare_writes_the_table_into_the_results_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faces.csv");
    std::fs::write(&data, stripes_csv(16, 5)).unwrap();
    let results = dir.path().join("docs/RESULTS.md");
    std::fs::create_dir_all(results.parent().unwrap()).unwrap();
    std::fs::write(&results, "# Results\n\nhand-written notes\n").unwrap();
    let args = [
        "fer",
        "compare",
        "--data",
        data.to_str().unwrap(),
        "--methods",
        "hog,lbp",
        "--kernels",
        "linear",
        "--write",
        results.to_str().unwrap(),
        "--json",
    ];
    let out = moodtune(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let hog = rows
        .iter()
        .find(|r| r["method"] == "HOG + linear SVM")
        .expect("HOG row");
    assert!(hog["accuracy"].as_f64().unwrap() >= 0.8, "{hog}");
    assert!(rows.iter().any(|r| r["method"] == "moodtune CNN (shipped)"));

    let doc = std::fs::read_to_string(&results).unwrap();
    assert!(doc.starts_with("# Results\n\nhand-written notes\n"));
    assert!(doc.contains("| LBP + linear SVM |") && doc.contains("| 53.5% |"));
    // The note names the command that made the table, with the choices that shaped it.
    let command = format!(
        "`moodtune fer compare --data {} --methods hog,lbp --kernels linear`",
        data.display()
    );
    assert!(doc.contains(&command), "{doc}");
    assert!(doc.contains("CNN rows are the shipped model"), "{doc}");
    // A second run replaces the generated section instead of adding another.
    let out = moodtune(&args);
    assert!(out.status.success());
    let again = std::fs::read_to_string(&results).unwrap();
    assert_eq!(again.matches("| HOG + linear SVM |").count(), 1);
    assert!(again.contains("hand-written notes"));
}

#[test]
fn malformed_data_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bad.csv");
    let mut csv = stripes_csv(3, 1);
    csv.push_str("9,1 2 3,Training\n");
    std::fs::write(&data, csv).unwrap();
    let out = moodtune(&[
        "fer",
        "compare",
        "--data",
        data.to_str().unwrap(),
        "--no-write",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:30:"), "{err}");
}

/// The figure after `label` in `text`, e.g. `T = 1.23` -> 1.23.
fn figure_after(text: &str, label: &str) -> f64 {
    let rest = &text[text
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {text}"))
        + label.len()..];
    let token: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    token.parse().unwrap()
}

#[test]
fn calibrate_fits_a_temperature_and_writes_it_with_the_tta() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faces.csv");
    std::fs::write(&data, stripes_csv(0, 6)).unwrap();
    let model = dir.path().join("model.safetensors");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../fer/models/fer.safetensors");
    std::fs::copy(shipped, &model).unwrap();
    let out = dir.path().join("calibrated.safetensors");
    let run = moodtune(&[
        "fer",
        "calibrate",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--tta",
        "none",
        "--write",
        out.to_str().unwrap(),
    ]);
    let stdout = succeeded(&run);
    let t = figure_after(&stdout, "T =");
    assert!((0.5..=4.0).contains(&t), "{stdout}");
    assert!(figure_after(&stdout, "NLL") > 0.0, "{stdout}");

    let info = moodtune(&["fer", "info", "--model", out.to_str().unwrap()]);
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        (figure_after(&info, "temperature") - t).abs() < 1e-6,
        "{info}"
    );
    assert!(info.contains("TTA           none"), "{info}");

    // Without --model the shipped model (compiled in) is calibrated and a copy written:
    // e.g. the ensemble without TTA, for a faster mode.
    let fast = dir.path().join("fast.safetensors");
    let run = moodtune(&[
        "fer",
        "calibrate",
        "--data",
        data.to_str().unwrap(),
        "--tta",
        "none",
        "--write",
        fast.to_str().unwrap(),
    ]);
    // The shipped cascade was fitted against the ensemble as calibrated then: say so.
    let stdout = succeeded(&run);
    // (The shipped cascade: member 0 (run 3) first, then member 2 (run 14).)
    assert!(
        stdout.contains("fer cascade --first 0 --then 2"),
        "{stdout}"
    );
    let info = moodtune(&["fer", "info", "--model", fast.to_str().unwrap()]);
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("TTA           none"), "{info}");
    let shipped = moodtune(&["fer", "info"]);
    let shipped = String::from_utf8_lossy(&shipped.stdout);
    // Same networks as shipped, only the stored augmentation differs.
    let networks = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("ensemble"))
            .map(str::to_string)
    };
    assert_eq!(networks(&info), networks(&shipped), "{info}\n{shipped}");
    assert!(shipped.contains("TTA           flip"), "{shipped}");
}

#[test]
fn cascade_picks_a_threshold_and_stores_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faces.csv");
    std::fs::write(&data, stripes_csv(0, 6)).unwrap();
    let out = dir.path().join("cascade.safetensors");
    let cascade = |extra: &[&str]| {
        let mut args = vec!["fer", "cascade", "--data", data.to_str().unwrap()];
        args.extend_from_slice(extra);
        moodtune(&args)
    };
    // Fits with any loss allowed, writes `out`, and returns the table and `fer info`.
    let fit_and_describe = |stages: &[&str]| {
        let mut args = stages.to_vec();
        args.extend(["--max-drop", "100", "--write", out.to_str().unwrap()]);
        let stdout = succeeded(&cascade(&args));
        let info = moodtune(&["fer", "info", "--model", out.to_str().unwrap()]);
        (stdout, String::from_utf8_lossy(&info.stdout).to_string())
    };
    // Stripes are not faces: allowing any loss, the lowest threshold is taken.
    let (stdout, info) = fit_and_describe(&["--first", "1"]);
    assert!(
        stdout.contains("0.30") && stdout.contains("<- chosen"),
        "{stdout}"
    );
    assert!(
        info.contains("cascade       member 1 first") && info.contains("below 0.3"),
        "{info}"
    );
    // The cascade runs wherever the model is used.
    let eval = moodtune(&[
        "fer",
        "eval",
        "--data",
        data.to_str().unwrap(),
        "--model",
        out.to_str().unwrap(),
    ]);
    let eval = String::from_utf8_lossy(&eval.stdout);
    assert!(
        eval.contains("network passes per face on average, of 6"),
        "{eval}"
    );

    // Members that do not exist, or no second stage, are refused before any work.
    for first in ["3", "0,1,2"] {
        let run = cascade(&["--first", first]);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success());
        assert!(err.contains("members 0-2"), "{first}: {err}");
    }

    // Two stages: member 1, then member 0, then member 2.
    let (stdout, info) = fit_and_describe(&["--first", "1", "--then", "0"]);
    assert!(
        stdout.contains("0.30 / 0.30") && stdout.contains("<- chosen"),
        "{stdout}"
    );
    assert!(
        info.contains("member 1 first, member 0 below 0.30, the rest below 0.30 confidence"),
        "{info}"
    );
    let run = cascade(&["--first", "1", "--then", "1,2"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(err.contains("member 1 is in two stages"), "{err}");
}
