//! Plain lyrics from LRC text: time tags (`[01:02.50]`, `<01:02.50>` word timings) and
//! ID tags (`[ar:Artist]`, `[ti:Title]`, `[offset:+100]`, ...) are removed, so the
//! lyrics classifier sees only the words.

/// Returns the words of `text` with LRC tags stripped and blank lines collapsed.
/// Text without any LRC tags comes back unchanged apart from trimmed line ends.
pub fn strip_lrc(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut rest = line.trim();
        // Leading [..] groups: time tags and ID tags; a line may carry several times.
        let mut is_id_tag_line = false;
        while let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else { break };
            let inner = &after[..end];
            if is_time_tag(inner) {
                rest = after[end + 1..].trim_start();
            } else if is_id_tag(inner) {
                is_id_tag_line = true;
                rest = after[end + 1..].trim_start();
            } else {
                break;
            }
        }
        if is_id_tag_line && rest.is_empty() {
            continue;
        }
        let words = strip_word_times(rest);
        let words = words.trim();
        if words.is_empty() {
            // Keep one blank line between stanzas, none at the start.
            if out.last().is_some_and(|l| !l.is_empty()) {
                out.push(String::new());
            }
            continue;
        }
        out.push(words.to_string());
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// Whether `text` looks like LRC (has at least one line starting with a time tag).
pub fn is_lrc(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim()
            .strip_prefix('[')
            .and_then(|a| a.find(']').map(|e| &a[..e]))
            .is_some_and(is_time_tag)
    })
}

/// `mm:ss`, `mm:ss.xx`, `mm:ss:xx`, `h:mm:ss.xx`.
fn is_time_tag(inner: &str) -> bool {
    let parts: Vec<&str> = inner.split([':', '.']).collect();
    (2..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[ar:...]`, `[ti:...]`, `[al:...]`, `[by:...]`, `[offset:...]`, `[length:...]`, ...
fn is_id_tag(inner: &str) -> bool {
    match inner.split_once(':') {
        Some((key, _)) => {
            !key.is_empty() && key.len() <= 8 && key.chars().all(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// Removes enhanced-LRC word timings like `<00:12.34>`.
fn strip_word_times(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        match after.find('>') {
            Some(end) if is_time_tag(&after[..end]) => {
                out.push_str(&rest[..start]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..=start]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_times_and_headers() {
        let lrc = "\u{feff}[ar:Some Singer]\n[ti:Paper Boats]\n[offset:+120]\n\
                   [00:01.00]Paper boats on the river\n\
                   [00:04.50][01:10.25]we fold them out of yesterday\n\
                   [00:08.00]\n\
                   [00:09.10]<00:09.10>slow <00:09.90>water\n\
                   [00:12:30]纸船 漂向 远方";
        assert!(is_lrc(lrc));
        assert_eq!(
            strip_lrc(lrc),
            "Paper boats on the river\nwe fold them out of yesterday\n\nslow water\n纸船 漂向 远方"
        );
    }

    #[test]
    fn plain_text_passes_through() {
        let plain = "No tags here\n[not a tag] stays\n1 < 2 > 0";
        assert!(!is_lrc(plain));
        assert_eq!(strip_lrc(plain), plain);
    }
}
