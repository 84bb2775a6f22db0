//! Reading the per-epoch `metrics.jsonl` that both trainers (crates/fer-train and the
//! PyTorch reference script) append to, one JSON object per line.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::Path;

/// One epoch of training. Accuracies are fractions (0-1) as the trainers write them;
/// fields other than these (lr, seconds, images_per_s ...) are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    #[serde(deserialize_with = "number_or_nan")]
    pub train_loss: f64,
    #[serde(deserialize_with = "number_or_nan")]
    pub train_acc: f64,
    /// Loss on the validation split (PublicTest).
    #[serde(deserialize_with = "number_or_nan")]
    pub val_loss: f64,
    #[serde(deserialize_with = "number_or_nan")]
    pub val_acc: f64,
    /// The weight average's validation figures (`fer train --ema`); NaN when the run kept
    /// none.
    #[serde(default = "nan", deserialize_with = "number_or_nan")]
    pub ema_val_loss: f64,
    #[serde(default = "nan", deserialize_with = "number_or_nan")]
    pub ema_val_acc: f64,
}

fn nan() -> f64 {
    f64::NAN
}

/// `null` (and the bare NaN/Infinity Python writes, see [`python_nonfinite_to_null`])
/// becomes NaN, so a diverged epoch is still read and shows as a gap in the curves.
fn number_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Python's `json.dumps` writes non-finite floats as the bare words `NaN`, `Infinity`
/// and `-Infinity`, which are not JSON. Replaces them (outside strings) with `null`.
fn python_nonfinite_to_null(line: &str) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    let mut changed = false;
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else {
            let word = ["-Infinity", "Infinity", "NaN"]
                .into_iter()
                .find(|w| rest.starts_with(w));
            if let Some(w) = word {
                out.push_str("null");
                rest = &rest[w.len()..];
                changed = true;
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    changed.then_some(out)
}

/// Parses one line; `None` for a blank line.
pub fn parse_line(line: &str) -> Result<Option<EpochRecord>> {
    let t = line.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<EpochRecord>(t) {
        Ok(r) => Ok(Some(r)),
        Err(first) => match python_nonfinite_to_null(t) {
            Some(fixed) => Ok(Some(serde_json::from_str(&fixed).map_err(|_| first)?)),
            None => Err(first.into()),
        },
    }
}

/// Reads every epoch record of a metrics.jsonl file, in file order. A line that is not
/// an epoch record is an error naming the file and line; a file without any record is
/// an error too (nothing could be plotted from it).
pub fn read_metrics(path: &Path) -> Result<Vec<EpochRecord>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read metrics file {}", path.display()))?;
    // A file saved again by Notepad or PowerShell starts with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let rec = parse_line(line).with_context(|| {
            format!(
                "{}:{}: not an epoch record (expected JSON with epoch, train_loss, train_acc, val_loss, val_acc)",
                path.display(),
                i + 1
            )
        })?;
        out.extend(rec);
    }
    if out.is_empty() {
        bail!("{}: no epoch records", path.display());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_ignoring_extra_fields_blank_lines_and_a_bom() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("metrics.jsonl");
        std::fs::write(
            &p,
            concat!(
                "\u{feff}",
                r#"{"epoch": 1, "train_loss": 1.8, "train_acc": 0.25, "val_loss": 1.7, "val_acc": 0.3, "lr": 0.001, "seconds": 12.5}"#,
                "\n\n",
                r#"{"epoch":2,"train_loss":1.5,"train_acc":0.4,"val_loss":1.45,"val_acc":0.42,"images_per_s":900}"#,
                "\n"
            ),
        )
        .unwrap();
        let r = read_metrics(&p).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].epoch, 2);
        assert_eq!(r[0].val_acc, 0.3);
        assert_eq!(r[1].train_loss, 1.5);
        assert!(r[0].ema_val_acc.is_nan(), "no average in this run");
        let ema = parse_line(
            r#"{"epoch":3,"train_loss":1,"train_acc":0.5,"val_loss":1,"val_acc":0.5,"ema_val_loss":0.9,"ema_val_acc":0.55}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!((ema.ema_val_loss, ema.ema_val_acc), (0.9, 0.55));
    }

    #[test]
    fn python_nan_and_infinity_become_nan() {
        let r = parse_line(
            r#"{"epoch": 3, "train_loss": NaN, "train_acc": 0.1, "val_loss": Infinity, "val_acc": 0.2, "note": "NaN stays"}"#,
        )
        .unwrap()
        .unwrap();
        assert!(r.train_loss.is_nan() && r.val_loss.is_nan());
        assert_eq!((r.epoch, r.val_acc), (3, 0.2));
        assert_eq!(
            python_nonfinite_to_null(r#"{"a": -Infinity, "s": "NaN \" NaN"}"#).unwrap(),
            r#"{"a": null, "s": "NaN \" NaN"}"#
        );
        assert!(python_nonfinite_to_null(r#"{"a": 1}"#).is_none());
    }

    #[test]
    fn bad_line_is_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.jsonl");
        std::fs::write(
            &p,
            "{\"epoch\":1,\"train_loss\":1,\"train_acc\":0.2,\"val_loss\":1,\"val_acc\":0.2}\n{\"epoch\":2,\"train_loss\":1\n",
        )
        .unwrap();
        let err = format!("{:#}", read_metrics(&p).unwrap_err());
        assert!(err.contains("m.jsonl:2"), "{err}");
        std::fs::write(
            &p,
            "{\"epoch\":1,\"train_loss\":1,\"train_acc\":0.2,\"val_loss\":1}\n",
        )
        .unwrap();
        let err = format!("{:#}", read_metrics(&p).unwrap_err());
        assert!(
            err.contains("m.jsonl:1") && err.contains("val_acc"),
            "{err}"
        );
        std::fs::write(&p, "\n\n").unwrap();
        let err = format!("{:#}", read_metrics(&p).unwrap_err());
        assert!(err.contains("no epoch records"), "{err}");
        let err = format!(
            "{:#}",
            read_metrics(&d.path().join("none.jsonl")).unwrap_err()
        );
        assert!(err.contains("none.jsonl"), "{err}");
    }
}
