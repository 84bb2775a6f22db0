//! MP3 files made byte by byte: an ID3v2.3 tag, then silent MPEG-1 Layer III frames.
//! Enough for tag readers and writers (lofty) and decoders to take it for real.

/// One ID3v2.3 frame: id, size, flags, then `data`.
pub fn id3_frame(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut f = id.to_vec();
    f.extend((data.len() as u32).to_be_bytes());
    f.extend([0, 0]);
    f.extend(data);
    f
}

/// A Latin-1 text frame (TIT2, TPE1, TCON, TMOO, ...).
pub fn text_frame(id: &[u8; 4], text: &str) -> Vec<u8> {
    let mut data = vec![0];
    data.extend(text.as_bytes());
    id3_frame(id, &data)
}

/// An ID3v2.3 tag holding `frames`, then `silent_frames` silent 128 kbit/s, 44.1 kHz
/// MPEG frames (417 bytes, 26 ms each).
pub fn mp3_bytes(frames: &[Vec<u8>], silent_frames: usize) -> Vec<u8> {
    let body: Vec<u8> = frames.concat();
    let size = body.len() as u32;
    let mut out = b"ID3\x03\x00\x00".to_vec();
    // The tag size is "syncsafe": 7 bits per byte.
    out.extend([size >> 21, size >> 14, size >> 7, size].map(|b| (b & 0x7F) as u8));
    out.extend(body);
    for _ in 0..silent_frames {
        let mut f = vec![0xFF, 0xFB, 0x90, 0x64];
        f.resize(417, 0);
        out.extend(f);
    }
    out
}

/// About a second of silence titled `title`.
pub fn titled_mp3(title: &str) -> Vec<u8> {
    mp3_bytes(&[text_frame(b"TIT2", title)], 40)
}
