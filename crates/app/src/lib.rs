//! moodtune's application layer: the glue that wires the library crates into the app.
//!
//! The `moodtune` binary and the web server are thin adapters over this crate: they parse
//! arguments or HTTP, call it, and print or serialise what it returns. Each module
//! answers one question of the app:
//!
//! - [`open`]: where the song library lives, and a fresh library's demo songs.
//! - [`detect`]: which face detector and expression model a scene gets (the factory).
//! - [`mood`]: from an image to a mood (one rule for the main face).
//! - [`recognize`]: every face of photos and its expression, as a report per photo.
//! - [`playlist`]: from a mood to a playlist (the recommender kept in step with the library).
//! - [`playlist_file`]: a playlist as a file for other players (M3U8, XSPF, JSON).
//! - [`player`]: a playlist played by MPD, songs mapped into its music folder.
//! - [`taste`]: typical songs and like/skip feedback, given by song names.
//! - [`songs`]: which songs a listing shows, as a table or a song's details; checks on
//!   tag edits.
//! - [`text`]: terminal columns and durations for the reports the app renders.
//! - [`enrich`]: import, then give every new or changed song its emotion library; the
//!   run's summary as text.
//! - [`web`]: the web app's operations as one shareable object; [`streams`]: the face
//!   tracker each camera stream keeps between its frames.
//! - [`fer_tools`]: the `fer` commands' work: data and model files, evaluation,
//!   calibration, cascades, benchmarks and training settings.
//!
//! Only this crate sees both the face side (faces, fer) and the library side (library,
//! lyrics, recommend); `crates/app/tests/architecture.rs` checks that from `cargo metadata`.

pub mod detect;
pub mod enrich;
mod error;
pub mod fer_tools;
pub mod mood;
pub mod open;
pub mod player;
pub mod playlist;
pub mod playlist_file;
pub mod recognize;
pub mod songs;
pub mod streams;
pub mod taste;
pub mod text;
mod upload;
pub mod web;

pub use upload::safe_file_name;

/// How the moodtune program runs its networks: the fastest products the CPU has, bf16 on
/// AMX tiles or else 8 bits on AVX-512 VNNI or AVX2 (PublicTest accuracy within 0.2
/// points, passes 3-5x faster, 1.8x on AVX2; Intel Xeon with AMX, the AVX2 figure with
/// the engine capped to AVX2, release, 2026-12-07, docs/RESULTS.md), f32 elsewhere or
/// with `MOODTUNE_PRECISION=f32`.
/// The library alone computes in f32.
pub fn configure_inference() {
    use moodtune_fer::nn::{Products, Simd};
    Simd::prefer_products(Products::fastest());
}

pub use error::{Error, Result};
