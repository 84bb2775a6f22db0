//! moodtune-fer (being written).
