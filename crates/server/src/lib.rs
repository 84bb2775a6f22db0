//! moodtune-server (being written).
