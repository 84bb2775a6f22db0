//! moodtune-faces (being written).
