//! `fer info`: what a model file holds, a line per fact.

use moodtune_fer::classifier::cascade_summary;
use moodtune_fer::Classifier;

/// Architecture(s), size, cost per face, preprocessing, temperature, test-time
/// augmentation, cascade and the raw metadata of `clf`.
pub fn describe(clf: &Classifier) -> Vec<String> {
    let m = clf.meta();
    let members = clf.nets.len();
    // Each architecture once, with how many members have it.
    let archs = clf.architectures();
    let mut lines: Vec<String> = archs
        .iter()
        .map(|(arch, _)| format!("architecture  {} — {}", arch.name, arch.summary))
        .collect();
    if members > 1 {
        let counts: Vec<String> = archs
            .iter()
            .map(|(arch, n)| format!("{n} {}", arch.name))
            .collect();
        lines.push(format!(
            "ensemble      {members} networks ({}), probabilities averaged",
            counts.join(", ")
        ));
    }
    let params: usize = archs.iter().map(|(arch, n)| arch.cost().0 * n).sum();
    lines.push(format!("parameters    {params}"));
    let macs: Vec<String> = archs
        .iter()
        .map(|(arch, _)| format!("{:.1} M ({})", arch.cost().1 as f64 / 1e6, arch.name))
        .collect();
    lines.push(format!(
        "MACs/face     {} per network and view; {} passes per face with {} TTA",
        macs.join(", "),
        clf.passes_per_face(),
        clf.tta.key()
    ));
    lines.push(format!(
        "input         face -> [{}] -> {}x{} -> centre {}x{}, (x/255 - {}) / {}",
        m.preprocess.to_text(),
        m.input_size,
        m.input_size,
        m.crop,
        m.crop,
        m.mean,
        m.std
    ));
    lines.push(format!("temperature   {}", m.temperature));
    lines.push(format!("TTA           {}", m.tta.key()));
    if let Some(c) = &clf.cascade {
        let temperatures: Vec<String> =
            c.stages.iter().map(|s| s.temperature.to_string()).collect();
        lines.push(format!(
            "cascade       {} (stage temperatures {})",
            cascade_summary(c),
            temperatures.join(", ")
        ));
    }
    let mut keys: Vec<_> = m.raw.keys().collect();
    keys.sort();
    lines.extend(
        keys.into_iter()
            .map(|k| format!("meta {k:<9} {}", m.raw[k])),
    );
    lines
}
