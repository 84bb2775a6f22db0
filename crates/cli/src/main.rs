//! `moodtune`: a thin command-line layer over the moodtune crates. Each subcommand
//! lives in its own module and only parses arguments, calls a library and prints.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod analyze_cmd;
mod fer_cmd;
mod fer_compare;
mod library_cmd;
mod playlist_cmd;
mod progress;
mod recognize_cmd;
mod recommend_cmd;
mod serve_cmd;

#[derive(Parser)]
#[command(
    name = "moodtune",
    version,
    about = "Recommends music from your own library for the mood on your face"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local web app: live webcam mood and a playable playlist.
    Serve(serve_cmd::ServeArgs),
    /// Find every face in photos and recognise its expression.
    ///
    /// Exit status: 0 a face in every image, 3 some image without a face, 1 a file that
    /// could not be read or written (the others are still done), 2 a bad command line.
    Recognize(recognize_cmd::RecognizeArgs),
    /// Recommend songs for an emotion or for the face in a photo.
    Recommend(recommend_cmd::RecommendArgs),
    /// Write a mood's playlist as a file for other players (M3U8, XSPF, JSON), or play it
    /// in MPD (--mpd).
    Playlist(playlist_cmd::PlaylistArgs),
    /// Manage the typical songs that define your taste for each emotion.
    Profile(recommend_cmd::ProfileArgs),
    /// The mood of audio files: tempo, key, valence, arousal and emotion library.
    ///
    /// Exit status: 0 every file analysed, 1 some file could not be (the others are
    /// still done), 2 a bad command line.
    Analyze(analyze_cmd::AnalyzeArgs),
    /// Import, inspect, label, classify and export the song library.
    Library(library_cmd::LibraryArgs),
    /// Facial-expression models: train, evaluate, benchmark, plot.
    #[command(subcommand)]
    Fer(fer_cmd::FerCommand),
}

fn main() -> std::process::ExitCode {
    // The matches are kept beside the parsed command: `fer train` tells typed flags from
    // defaults with them.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_stdout();
    }
    moodtune_app::configure_inference();
    let result = match cli.command {
        Command::Serve(a) => serve_cmd::run(a),
        Command::Recognize(a) => recognize_cmd::run(a),
        Command::Recommend(a) => recommend_cmd::run(a),
        Command::Playlist(a) => playlist_cmd::run(a),
        Command::Profile(c) => recommend_cmd::run_profile(c),
        Command::Analyze(a) => analyze_cmd::run(a),
        Command::Library(c) => library_cmd::run(c),
        Command::Fer(c) => fer_cmd::run(c, &matches),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", moodtune_app::text::error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints each line on standard output.
fn print_lines(lines: &[String]) {
    for line in lines {
        println!("{line}");
    }
}

/// Rust ignores SIGPIPE, so `println!` panics when the reader has gone (`moodtune fer info |
/// head`). The printing commands take the signal's default instead and end quietly, as Unix
/// tools do. Not `serve`: a browser closing its connection must not end the server.
fn quiet_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called at start-up, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
