//! Plain-text helpers for the reports the app renders: terminal columns, durations and
//! error chains.

/// Terminal columns a character takes: CJK and full-width forms take two.
fn char_width(c: char) -> usize {
    match c as u32 {
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 => 2,
        _ => 1,
    }
}

/// Cuts `s` to at most `n` terminal columns and pads it to exactly `n`, so columns line
/// up with Chinese titles too.
pub fn clip(s: &str, n: usize) -> String {
    let total: usize = s.chars().map(char_width).sum();
    let mut out = String::new();
    let mut w = 0;
    if total <= n {
        out.push_str(s);
        w = total;
    } else {
        for c in s.chars() {
            if w + char_width(c) > n - 1 {
                break;
            }
            out.push(c);
            w += char_width(c);
        }
        out.push('…');
        w += 1;
    }
    out.extend(std::iter::repeat_n(' ', n.saturating_sub(w)));
    out
}

/// `m:ss`, rounded to the second first: 239.6 s is 4:00, not 3:60.
pub fn minutes_seconds(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", total / 60, total % 60)
}

/// The error and its causes, as anyhow's `{:#}` prints them, but without a cause whose
/// text an outer message already quotes: library errors name their cause in their own
/// message, so "No such file or directory" would otherwise print twice.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_before_they_split() {
        assert_eq!(minutes_seconds(239.6), "4:00");
        assert_eq!(minutes_seconds(225.0), "3:45");
        assert_eq!(minutes_seconds(59.4), "0:59");
        assert_eq!(minutes_seconds(3723.0), "62:03");
    }

    #[test]
    fn clip_counts_terminal_columns() {
        assert_eq!(clip("晴天晴天晴天", 7), "晴天晴…");
        assert_eq!(clip("晴天", 6), "晴天  ");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc ");
    }

    #[test]
    fn a_cause_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        // An error that quotes its source in its own message, as thiserror's do.
        #[derive(Debug)]
        struct Quoting(std::io::Error);
        impl std::fmt::Display for Quoting {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "x.jpg: cannot read file: {}", self.0)
            }
        }
        impl std::error::Error for Quoting {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = anyhow::Error::new(Quoting(io)).context("reading the photo");
        assert_eq!(
            error_chain(&e),
            "reading the photo: x.jpg: cannot read file: No such file"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&plain), "outer: inner");
    }
}
