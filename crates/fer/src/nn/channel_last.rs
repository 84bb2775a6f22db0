//! Maps kept channel-last between the layers of a stack ([`super::TileStack`] in bf16,
//! [`super::Int8Stack`] in 8 bits): pixel by pixel with the channels side by side,
//! inside the zero border the next convolution pads with, in buffers that start on a
//! cache line. Output pixel `q = y * wp + x` of a convolution over a map `wp` pixels
//! wide (border included) reads input pixel `q + ky * wp + kx` at kernel offset
//! (ky, kx), so a run of consecutive outputs reads a run of input pixels: no im2col.

/// 64 bytes on a cache line's boundary: buffers of them ([`Lines`]) start on a line, so
/// every 64-byte row a kernel reads (a pixel's channels, a row of weights) reads one
/// line rather than straddling two.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// Integers of any bit pattern, which a [`Lines`] buffer holds.
pub(super) trait Plain: Copy + Default {}
impl Plain for u8 {}
impl Plain for u16 {}
impl Plain for u32 {}
impl Plain for i32 {}

/// `len` values of `T` from the start of a line-aligned buffer, zeroed when made.
#[derive(Clone, Default)]
pub(super) struct Lines<T> {
    lines: Vec<Line>,
    len: usize,
    of: std::marker::PhantomData<T>,
}

impl<T: Plain> Lines<T> {
    pub(super) fn zeroed(len: usize) -> Self {
        let mut lines = Lines::default();
        lines.resize_keeping(len);
        lines
    }

    /// `len` values: those it held, zeros past them (the buffer grown, never shrunk).
    pub(super) fn resize_keeping(&mut self, len: usize) {
        let bytes = len * std::mem::size_of::<T>();
        if self.lines.len() * 64 < bytes {
            self.lines.resize(bytes.div_ceil(64), Line([0; 64]));
        }
        self.len = len;
    }
}

impl<T: Plain> std::ops::Deref for Lines<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // Safety: `len` values of T fit in the lines (`resize_keeping`), a line's alignment
        // covers T's, and any bits are a valid T (`Plain`).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr() as *const T, self.len) }
    }
}

impl<T: Plain> std::ops::DerefMut for Lines<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // Safety: as for `deref`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr() as *mut T, self.len) }
    }
}

impl<T> std::fmt::Debug for Lines<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lines({} values)", self.len)
    }
}

/// Offset of pixel (y, x) inside a border of `pad`, on a grid `wp` pixels wide of
/// `channels` values each.
pub(super) fn pixel_offset(
    (y, x): (usize, usize),
    pad: usize,
    wp: usize,
    channels: usize,
) -> usize {
    ((y + pad) * wp + x + pad) * channels
}

/// Spare zero pixels after a map's last row: a run of up to this many outputs past the
/// last one, plus the kernel's reach, reads inside the buffer.
const SPARE_PIXELS: usize = 32;

/// A channel-last map: `h` x `w` pixels inside a border of `pad` zero pixels,
/// `channels` values per pixel, then spare zero pixels.
#[derive(Debug, Clone, Default)]
pub(super) struct Map<T> {
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) pad: usize,
    pub(super) channels: usize,
    pub(super) data: Lines<T>,
}

impl<T: Plain> Map<T> {
    /// Pixels per row, border included.
    pub(super) fn wp(&self) -> usize {
        self.w + 2 * self.pad
    }

    /// Offset of pixel (y, x) (inside the border) in `data`.
    pub(super) fn at(&self, y: usize, x: usize) -> usize {
        pixel_offset((y, x), self.pad, self.wp(), self.channels)
    }

    /// This map as an `h` x `w` map of `channels` with a zero border of `pad`, read next
    /// by a `k` x `k` kernel; its buffer is reused (only grown). The inside keeps
    /// whatever it held: each caller writes every value of it.
    pub(super) fn reshape(&mut self, h: usize, w: usize, pad: usize, channels: usize, k: usize) {
        let (hp, wp) = (h + 2 * pad, w + 2 * pad);
        let len = (hp * wp + SPARE_PIXELS + k) * channels;
        self.h = h;
        self.w = w;
        self.pad = pad;
        self.channels = channels;
        self.data.resize_keeping(len);
        // The border and the spare pixels; the inside is left as it was.
        let row = wp * channels;
        let zero = T::default();
        let data = &mut self.data[..];
        data[..pad * row].fill(zero);
        data[(pad + h) * row..].fill(zero);
        for y in pad..pad + h {
            data[y * row..][..pad * channels].fill(zero);
            data[y * row + (pad + w) * channels..][..pad * channels].fill(zero);
        }
    }
}
