//! Prints the faces SeetaFace finds in images, with timings; writes `<name>.faces.png`
//! with the boxes drawn when `--draw` is given.
//! `cargo run -p moodtune-faces --example detect -- [--live] [--draw] IMAGE...`

use moodtune_faces::{load_image, FaceDetector, SeetaConfig, SeetaDetector};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let live = args.iter().any(|a| a == "--live");
    let draw = args.iter().any(|a| a == "--draw");
    let cfg = if live {
        SeetaConfig::live()
    } else {
        SeetaConfig::photo()
    };
    let det = SeetaDetector::new(cfg);
    for path in args.iter().filter(|a| !a.starts_with("--")) {
        let img = load_image(path.as_ref())?;
        let gray = img.to_luma8();
        let t = Instant::now();
        let faces = det.detect(&gray);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "{path}: {}x{} {} faces in {ms:.1} ms",
            gray.width(),
            gray.height(),
            faces.len()
        );
        for f in &faces {
            println!("  {:?} score {:.2}", f.bbox, f.score);
        }
        if draw {
            let mut rgb = img.to_rgb8();
            for f in &faces {
                let b = f.bbox;
                for x in b.x..b.x + b.width {
                    rgb.put_pixel(x, b.y, image::Rgb([255, 0, 0]));
                    rgb.put_pixel(x, b.y + b.height - 1, image::Rgb([255, 0, 0]));
                }
                for y in b.y..b.y + b.height {
                    rgb.put_pixel(b.x, y, image::Rgb([255, 0, 0]));
                    rgb.put_pixel(b.x + b.width - 1, y, image::Rgb([255, 0, 0]));
                }
            }
            let name = std::path::Path::new(path)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .to_string();
            moodtune_faces::save_image(&rgb, format!("/tmp/{name}.faces.png").as_ref())?;
        }
    }
    Ok(())
}
