//! FER2013 loading: the Kaggle CSV (optionally gzipped) and the `<split>/<class>/*.png`
//! folder layout. Every row is validated; a bad row is an error naming file and line, or
//! is skipped and counted when [`LoadOptions::skip_bad_rows`] is set.

use anyhow::{bail, Context, Result};
use moodtune_core::Emotion;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub const SIDE: usize = 48;
pub const PIXELS: usize = SIDE * SIDE;

/// The three FER2013 splits, as named in the CSV's `Usage` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Training,
    PublicTest,
    PrivateTest,
}

impl Usage {
    pub fn name(self) -> &'static str {
        match self {
            Usage::Training => "Training",
            Usage::PublicTest => "PublicTest",
            Usage::PrivateTest => "PrivateTest",
        }
    }
}

impl std::str::FromStr for Usage {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "training" | "train" => Ok(Usage::Training),
            "publictest" | "public" | "val" | "validation" => Ok(Usage::PublicTest),
            "privatetest" | "private" | "test" => Ok(Usage::PrivateTest),
            _ => bail!("unknown usage {s:?}: expected Training, PublicTest or PrivateTest"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Keep only rows of these splits (all rows when empty).
    pub usages: Vec<Usage>,
    /// Skip and count malformed rows instead of failing on the first one.
    pub skip_bad_rows: bool,
}

/// 48x48 grayscale faces with labels, stored contiguously (`images[i*2304..(i+1)*2304]`).
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<Emotion>,
    /// Rows skipped as malformed, with their reason (only with `skip_bad_rows`).
    pub skipped: Vec<String>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// Replays `pipeline` on every face, as [`crate::Classifier`] does before it resizes
    /// to the network's input: a model trained with stored preprocessing must have seen
    /// it in training too. A step that changes the size is resized back to `SIDE`.
    pub fn preprocess(&mut self, pipeline: &crate::Pipeline) {
        if pipeline.0.is_empty() {
            return;
        }
        use rayon::prelude::*;
        self.images.par_chunks_mut(PIXELS).for_each(|face| {
            let img = image::GrayImage::from_raw(SIDE as u32, SIDE as u32, face.to_vec())
                .expect("a face holds SIDE x SIDE pixels");
            let mut out = pipeline.apply(&img);
            if out.dimensions() != (SIDE as u32, SIDE as u32) {
                out = image::imageops::resize(
                    &out,
                    SIDE as u32,
                    SIDE as u32,
                    image::imageops::FilterType::Triangle,
                );
            }
            face.copy_from_slice(out.as_raw());
        });
    }

    /// Count of each label, in FER2013 id order.
    pub fn label_counts(&self) -> [usize; Emotion::COUNT] {
        let mut c = [0; Emotion::COUNT];
        for l in &self.labels {
            c[l.index()] += 1;
        }
        c
    }

    /// Loads a CSV / CSV.gz file or an image folder, whichever `path` is.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
        if path.is_dir() {
            return load_folder(path, opts);
        }
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        load_csv(BufReader::with_capacity(1 << 20, reader), path, opts)
    }

    /// Indices in a seeded random order, then cut into batches (the last may be short).
    pub fn shuffled_batches(&self, batch: usize, seed: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        order.chunks(batch.max(1)).map(|c| c.to_vec()).collect()
    }

    /// Indices of a fixed random sample: the first `n` of a seeded shuffle.
    pub fn sample_indices(&self, n: usize, seed: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        order.truncate(n);
        order
    }

    /// The rows of [`Dataset::sample_indices`], as a data set of their own.
    pub fn sample(&self, n: usize, seed: u64) -> Dataset {
        self.subset(&self.sample_indices(n, seed))
    }

    /// The rows at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut out = Dataset::default();
        for &i in indices {
            out.images.extend_from_slice(self.image(i));
            out.labels.push(self.labels[i]);
        }
        out
    }
}

/// Longest CSV line read: a FER2013 row is about 9 KB. A file without line breaks (a
/// binary file, a decompression bomb) is refused rather than read into one string.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// One line into `line` (cleared first); 0 at the end of the file.
fn read_line_bounded(
    reader: &mut impl BufRead,
    line: &mut String,
    path: &Path,
    line_no: usize,
) -> Result<usize> {
    line.clear();
    let n = reader
        .take(MAX_LINE_BYTES + 1)
        .read_line(line)
        .with_context(|| format!("{}:{line_no}: cannot read", path.display()))?;
    if n as u64 > MAX_LINE_BYTES {
        bail!(
            "{}:{line_no}: line longer than {} KiB: not a FER2013 CSV",
            path.display(),
            MAX_LINE_BYTES / 1024
        );
    }
    Ok(n)
}

fn load_csv(mut reader: impl BufRead, path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let mut line = String::new();
    let n = read_line_bounded(&mut reader, &mut line, path, 1)?;
    if n == 0 {
        bail!("{}: empty file, expected a FER2013 CSV", path.display());
    }
    // Spreadsheet programs often start a CSV with a byte-order mark.
    let header: Vec<String> = line
        .trim_start_matches('\u{feff}')
        .trim()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(label_col), Some(pixels_col)) = (col("emotion"), col("pixels")) else {
        bail!(
            "{}:1: header must name the columns emotion and pixels (and optionally Usage), found {:?}",
            path.display(),
            line.trim()
        );
    };
    let usage_col = col("usage");
    let mut ds = Dataset::default();
    let mut line_no = 1;
    loop {
        let n = read_line_bounded(&mut reader, &mut line, path, line_no + 1)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        match parse_row(
            &line,
            label_col,
            pixels_col,
            usage_col,
            opts,
            &mut ds.images,
        ) {
            Ok(Some(label)) => ds.labels.push(label),
            Ok(None) => {}
            Err(e) => {
                let msg = format!("{}:{}: {e}", path.display(), line_no);
                if opts.skip_bad_rows {
                    ds.skipped.push(msg);
                } else {
                    bail!(msg);
                }
            }
        }
    }
    Ok(ds)
}

/// Parses one row; appends its pixels to `images` only when the whole row is valid.
/// Returns `None` for rows of an unselected split.
fn parse_row(
    line: &str,
    label_col: usize,
    pixels_col: usize,
    usage_col: Option<usize>,
    opts: &LoadOptions,
    images: &mut Vec<u8>,
) -> Result<Option<Emotion>> {
    let fields: Vec<&str> = line.trim_end_matches(['\r', '\n']).split(',').collect();
    let field = |i: usize| {
        fields.get(i).copied().ok_or_else(|| {
            anyhow::anyhow!(
                "expected at least {} columns, found {}",
                i + 1,
                fields.len()
            )
        })
    };
    if let Some(uc) = usage_col {
        let usage: Usage = field(uc)?.trim().parse()?;
        if !opts.usages.is_empty() && !opts.usages.contains(&usage) {
            return Ok(None);
        }
    }
    let label_text = field(label_col)?.trim();
    let label = label_text
        .parse::<usize>()
        .ok()
        .and_then(Emotion::from_index)
        .ok_or_else(|| anyhow::anyhow!("label {label_text:?} is not an integer 0-6"))?;
    let start = images.len();
    let mut count = 0usize;
    for tok in field(pixels_col)?.split_ascii_whitespace() {
        count += 1;
        match tok.parse::<u8>() {
            Ok(v) if count <= PIXELS => images.push(v),
            Ok(_) => {}
            Err(_) => {
                images.truncate(start);
                bail!("pixel {count} is {tok:?}, not an integer 0-255");
            }
        }
    }
    if count != PIXELS {
        images.truncate(start);
        bail!("expected {PIXELS} pixel values (48x48), found {count}");
    }
    Ok(Some(label))
}

/// `<root>/<class name>/*.png|jpg`, or `<root>/<split>/<class name>/...` when the
/// options select splits. Images are converted to grayscale and resized to 48x48.
fn load_folder(root: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if opts.usages.is_empty() {
        roots.push(root.to_path_buf());
    } else {
        for u in &opts.usages {
            let dir = root.join(u.name());
            if !dir.is_dir() {
                bail!(
                    "{}: no folder {} for split {}",
                    root.display(),
                    dir.display(),
                    u.name()
                );
            }
            roots.push(dir);
        }
    }
    let mut ds = Dataset::default();
    for dir in roots {
        let mut classes: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .collect();
        classes.sort_by_key(|e| e.file_name().to_string_lossy().to_lowercase());
        if classes.is_empty() {
            bail!(
                "{}: no class folders (expected e.g. angry/, happy/ ...)",
                dir.display()
            );
        }
        for class in classes {
            let name = class.file_name().to_string_lossy().to_string();
            let emotion: Emotion = name.parse().with_context(|| {
                format!("{}: folder name is not an emotion", class.path().display())
            })?;
            let mut files: Vec<PathBuf> = std::fs::read_dir(class.path())
                .with_context(|| format!("cannot list {}", class.path().display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|e| {
                        matches!(
                            e.to_ascii_lowercase().to_str(),
                            Some("png" | "jpg" | "jpeg" | "bmp" | "webp")
                        )
                    })
                })
                .collect();
            files.sort();
            for f in files {
                match read_face(&f) {
                    Ok(pixels) => {
                        ds.images.extend_from_slice(&pixels);
                        ds.labels.push(emotion);
                    }
                    Err(e) if opts.skip_bad_rows => ds.skipped.push(format!("{e:#}")),
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(ds)
}

/// The largest image a face folder may hold: face crops are small, and one huge file
/// must not take the machine's memory.
const MAX_FACE_FILE_SIDE: u32 = 4096;

fn read_face(path: &Path) -> Result<Vec<u8>> {
    use image::ImageDecoder;
    let mut reader = image::ImageReader::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_FACE_FILE_SIDE);
    limits.max_image_height = Some(MAX_FACE_FILE_SIDE);
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    let unreadable = || {
        format!(
            "{}: not a readable image (or larger than {MAX_FACE_FILE_SIDE} px a side)",
            path.display()
        )
    };
    let mut decoder = reader.into_decoder().with_context(unreadable)?;
    // A phone photo stored sideways with an EXIF turn is a sideways face otherwise.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).with_context(unreadable)?;
    img.apply_orientation(orientation);
    let img = img.to_luma8();
    let img = if img.dimensions() == (SIDE as u32, SIDE as u32) {
        img
    } else {
        image::imageops::resize(
            &img,
            SIDE as u32,
            SIDE as u32,
            image::imageops::FilterType::Triangle,
        )
    };
    Ok(img.into_raw())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn row(label: &str, value: u8, usage: &str) -> String {
        let px: Vec<String> = (0..PIXELS).map(|_| value.to_string()).collect();
        format!("{label},{},{usage}\n", px.join(" "))
    }

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn preprocessing_replays_the_pipeline_on_every_face_and_keeps_the_size() {
        // Two faces: a dark-to-light ramp, then its mirror image.
        let ramp: Vec<u8> = (0..PIXELS).map(|i| (40 + (i % SIDE)) as u8).collect();
        let mirror: Vec<u8> = (0..PIXELS).map(|i| (87 - (i % SIDE)) as u8).collect();
        let mut ds = Dataset {
            images: [ramp.clone(), mirror.clone()].concat(),
            labels: vec![Emotion::Happy, Emotion::Sad],
            skipped: vec![],
        };
        let pipeline = crate::Pipeline::parse("equalize,resize24").unwrap();
        ds.preprocess(&pipeline);
        assert_eq!(ds.images.len(), 2 * PIXELS);
        let by_hand = |px: Vec<u8>| {
            let img = image::GrayImage::from_raw(SIDE as u32, SIDE as u32, px).unwrap();
            let small = pipeline.apply(&img);
            assert_eq!(small.dimensions(), (24, 24));
            image::imageops::resize(&small, 48, 48, image::imageops::FilterType::Triangle)
                .into_raw()
        };
        assert_eq!(ds.image(0), by_hand(ramp).as_slice());
        assert_eq!(ds.image(1), by_hand(mirror).as_slice());
        // Equalized: the ramp (40..87) now spans nearly the whole range (the resizes
        // soften its ends).
        let (lo, hi) = (ds.image(0).iter().min(), ds.image(0).iter().max());
        assert!(lo < Some(&15) && hi > Some(&240), "{lo:?}..{hi:?}");
        // No steps: nothing changes.
        let before = ds.images.clone();
        ds.preprocess(&crate::Pipeline::parse("").unwrap());
        assert_eq!(ds.images, before);
    }

    #[test]
    fn loads_and_selects_usage() {
        let d = tempfile::tempdir().unwrap();
        let body = format!(
            "emotion,pixels,Usage\n{}{}{}",
            row("3", 10, "Training"),
            row("5", 20, "PublicTest"),
            row("0", 30, "Training")
        );
        let p = write(d.path(), "f.csv", &body);
        let all = Dataset::load(&p, &LoadOptions::default()).unwrap();
        assert_eq!(all.len(), 3);
        let opts = LoadOptions {
            usages: vec![Usage::Training],
            ..Default::default()
        };
        let train = Dataset::load(&p, &opts).unwrap();
        assert_eq!(train.labels, vec![Emotion::Happy, Emotion::Angry]);
        assert_eq!(train.image(1)[0], 30);
        assert_eq!(train.label_counts()[3], 1);
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_ignored() {
        let d = tempfile::tempdir().unwrap();
        let body = format!("\u{feff}emotion,pixels,Usage\n{}", row("3", 10, "Training"));
        let p = write(d.path(), "bom.csv", &body);
        let ds = Dataset::load(&p, &LoadOptions::default()).unwrap();
        assert_eq!(ds.labels, vec![Emotion::Happy]);
    }

    #[test]
    fn gzip_is_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv.gz");
        let mut gz =
            flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), Default::default());
        gz.write_all(format!("emotion,pixels,Usage\n{}", row("6", 1, "Training")).as_bytes())
            .unwrap();
        gz.finish().unwrap();
        let ds = Dataset::load(&p, &LoadOptions::default()).unwrap();
        assert_eq!(ds.labels, vec![Emotion::Neutral]);
    }

    #[test]
    fn bad_rows_name_file_and_line_or_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        let short = "2,1 2 3,Training\n";
        let body = format!(
            "emotion,pixels,Usage\n{}{short}{}",
            row("1", 5, "Training"),
            row("9", 5, "Training")
        );
        let p = write(d.path(), "bad.csv", &body);
        let err = Dataset::load(&p, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.csv:3"), "{err}");
        assert!(err.contains("2304"), "{err}");
        let opts = LoadOptions {
            skip_bad_rows: true,
            ..Default::default()
        };
        let ds = Dataset::load(&p, &opts).unwrap();
        assert_eq!(ds.len(), 1);
        assert_eq!(ds.images.len(), PIXELS);
        assert_eq!(ds.skipped.len(), 2);
        assert!(ds.skipped[1].contains("bad.csv:4") && ds.skipped[1].contains("0-6"));
    }

    #[test]
    fn a_file_without_line_breaks_is_refused_not_read_whole() {
        let d = tempfile::tempdir().unwrap();
        // A compressed run of one byte: tiny on disk, 8 MiB of one "line" inside.
        let p = d.path().join("bomb.csv.gz");
        let mut gz =
            flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), Default::default());
        gz.write_all(format!("emotion,pixels,Usage\n{}", row("6", 1, "Training")).as_bytes())
            .unwrap();
        gz.write_all(&vec![b'7'; 8 << 20]).unwrap();
        gz.finish().unwrap();
        let err = Dataset::load(&p, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bomb.csv.gz:3") && err.contains("longer than"),
            "{err}"
        );
    }

    #[test]
    fn pixel_out_of_range_and_missing_header_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let mut px: Vec<String> = (0..PIXELS).map(|_| "1".to_string()).collect();
        px[7] = "256".into();
        let p = write(
            d.path(),
            "r.csv",
            &format!("emotion,pixels\n0,{}\n", px.join(" ")),
        );
        let err = Dataset::load(&p, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("r.csv:2") && err.contains("pixel 8"), "{err}");
        let p = write(d.path(), "h.csv", "a,b\n1,2\n");
        assert!(Dataset::load(&p, &LoadOptions::default())
            .unwrap_err()
            .to_string()
            .contains("header"));
        let p = write(d.path(), "e.csv", "");
        assert!(Dataset::load(&p, &LoadOptions::default())
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(Dataset::load(&d.path().join("missing.csv"), &LoadOptions::default()).is_err());
    }

    #[test]
    fn image_folder_layout() {
        let d = tempfile::tempdir().unwrap();
        for (class, v) in [("happy", 200u8), ("Sad", 50)] {
            let dir = d.path().join("Training").join(class);
            std::fs::create_dir_all(&dir).unwrap();
            image::GrayImage::from_pixel(96, 96, image::Luma([v]))
                .save(dir.join("a.png"))
                .unwrap();
        }
        let opts = LoadOptions {
            usages: vec![Usage::Training],
            ..Default::default()
        };
        let ds = Dataset::load(d.path(), &opts).unwrap();
        assert_eq!(ds.labels, vec![Emotion::Happy, Emotion::Sad]);
        assert_eq!(ds.image(0)[100], 200);
        assert_eq!(ds.image(1)[0], 50);

        // An image far larger than any face crop is refused by name, not decoded.
        let huge = d.path().join("Training").join("Sad").join("huge.png");
        image::GrayImage::new(MAX_FACE_FILE_SIDE + 1, 1)
            .save(&huge)
            .unwrap();
        let err = format!("{:#}", Dataset::load(d.path(), &opts).unwrap_err());
        assert!(err.contains("huge.png") && err.contains("4096"), "{err}");
    }

    #[test]
    fn shuffling_is_seeded() {
        let ds = Dataset {
            images: vec![0; PIXELS * 10],
            labels: vec![Emotion::Happy; 10],
            skipped: vec![],
        };
        let a = ds.shuffled_batches(4, 7);
        assert_eq!(a, ds.shuffled_batches(4, 7));
        assert_ne!(a, ds.shuffled_batches(4, 8));
        assert_eq!(a.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
        let mut all: Vec<usize> = a.concat();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    /// The real file, when ../shared is beside the checkout (as in CI).
    #[test]
    fn real_fer2013_when_present() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/fer2013/fer2013.csv.gz");
        if !p.exists() {
            moodtune_testkit::missing(&p.display().to_string(), "FER2013 lives in ../shared/data");
            return;
        }
        let opts = LoadOptions {
            usages: vec![Usage::PublicTest],
            ..Default::default()
        };
        let ds = Dataset::load(&p, &opts).unwrap();
        assert_eq!(ds.len(), 3589);
        assert!(ds.skipped.is_empty());
        assert!(ds.label_counts().iter().all(|&c| c > 0));
    }
}
