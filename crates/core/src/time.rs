//! Wall-clock time as the library stores it.

/// Seconds since the Unix epoch; 0 on a clock set before 1970.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
