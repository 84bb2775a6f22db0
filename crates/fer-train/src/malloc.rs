//! glibc malloc settings for training on libtorch.
//!
//! A training step allocates and frees activations of up to ~25 MB each. glibc serves
//! blocks that big with fresh `mmap`s and gives them back on `free`, so every step
//! page-faults and zeroes its activations again: measured on a widevgg run on 2 Zen 3
//! cores, 52-67 thousand page faults a second and 11-12% of the time in the kernel.
//! Keeping freed memory in the heap instead made the same run's epochs 265 s instead of
//! 332-374 s (docs/RESULTS.md). It costs resident memory: the heap keeps its peak.

/// Largest block glibc may still hand out from the heap (its maximum, 32 MiB on 64-bit):
/// every activation of the registry's networks at batch 64 fits below it.
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Freed memory at the top of the heap glibc keeps instead of returning it to the kernel.
const TRIM_THRESHOLD: i32 = i32::MAX;
/// Extra memory each heap growth asks for, so steps do not grow it page by page.
const TOP_PAD: i32 = 256 << 20;

/// Makes glibc keep freed training buffers for reuse. Call before the first step; a no-op
/// on other C libraries. Returns whether every setting was accepted.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is safe to call at any
        // time, and before the worker threads exist nothing else allocates concurrently.
        unsafe {
            [
                (libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                (libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                (libc::M_TOP_PAD, TOP_PAD),
            ]
            .into_iter()
            .all(|(param, value)| libc::mallopt(param, value) == 1)
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_accepts_every_setting() {
        assert!(super::keep_freed_memory());
    }
}
