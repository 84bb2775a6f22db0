//! Demo library (being written).
