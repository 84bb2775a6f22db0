//! Progress bars on standard error for the long library commands.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::Path;

/// A bar that appears with the first report of more than `min_total` items, and only on
/// a terminal: short jobs and logs stay quiet.
pub struct LazyBar {
    bar: ProgressBar,
    template: String,
    min_total: usize,
    started: bool,
}

impl LazyBar {
    /// `template`: indicatif's, e.g. `"reading audio {pos}/{len} [{bar:30}] {wide_msg}"`.
    pub fn new(template: impl Into<String>, min_total: usize) -> LazyBar {
        LazyBar {
            bar: ProgressBar::hidden(),
            template: template.into(),
            min_total,
            started: false,
        }
    }

    pub fn update(&mut self, done: usize, total: usize, message: String) {
        if !self.started && total > self.min_total {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.set_length(total as u64);
            self.bar.set_style(
                ProgressStyle::with_template(&self.template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            self.started = true;
        }
        self.bar.set_position(done as u64);
        self.bar.set_message(message);
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// The file name a bar shows for the file being worked on.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
