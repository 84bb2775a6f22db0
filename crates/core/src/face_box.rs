//! Where a face is in an image: one type for the detector, the pipeline, the
//! application and the web page's wire format.

use serde::{Deserialize, Serialize};

/// An axis-aligned box in the pixel coordinates of the image given to the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FaceBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl FaceBox {
    pub fn area(&self) -> u64 {
        self.width as u64 * self.height as u64
    }

    pub fn center(&self) -> (f32, f32) {
        (
            self.x as f32 + self.width as f32 / 2.0,
            self.y as f32 + self.height as f32 / 2.0,
        )
    }

    /// Intersection over union, 0 when the boxes do not touch.
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        if x1 <= x0 || y1 <= y0 {
            return 0.0;
        }
        let inter = (x1 - x0) as f32 * (y1 - y0) as f32;
        inter / (self.area() as f32 + other.area() as f32 - inter)
    }

    /// Clips a box given in signed, possibly out-of-frame coordinates to the image.
    /// Returns `None` when nothing of it lies inside.
    pub fn clipped(x: f32, y: f32, w: f32, h: f32, img_w: u32, img_h: u32) -> Option<FaceBox> {
        let x0 = x.max(0.0).round() as i64;
        let y0 = y.max(0.0).round() as i64;
        let x1 = ((x + w).round() as i64).min(img_w as i64);
        let y1 = ((y + h).round() as i64).min(img_h as i64);
        if x1 <= x0 || y1 <= y0 {
            return None;
        }
        Some(FaceBox {
            x: x0 as u32,
            y: y0 as u32,
            width: (x1 - x0) as u32,
            height: (y1 - y0) as u32,
        })
    }
}
