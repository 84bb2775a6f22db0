//! moodtune-lyrics (being written).
