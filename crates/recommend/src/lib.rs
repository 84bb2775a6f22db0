//! moodtune-recommend (being written).
