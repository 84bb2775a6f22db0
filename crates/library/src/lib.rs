//! moodtune-library (being written).
