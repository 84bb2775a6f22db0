//! `moodtune serve`: the web app of moodtune-server over the real model, face detector,
//! song library and recommender.

use anyhow::Context;
use moodtune_app::player::{self, MpdFollower, MpdTarget};
use moodtune_app::web::WebApp;
use moodtune_server::HostAllowlist;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Song library database [default: $MOODTUNE_DB, else <data dir>/moodtune/library.sqlite].
    /// An empty library gets the demo songs on first run.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Address to listen on. Only loopback addresses keep the app private to this computer.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// Another host name (or address) the page may be reached by, beside localhost and
    /// the --addr address, optionally with :PORT: a LAN name or address when listening
    /// on 0.0.0.0, a reverse proxy's name. Repeatable. Requests naming any other host are
    /// refused (403), so a web site cannot reach the app through DNS rebinding.
    #[arg(long = "allow-host", value_name = "NAME", value_parser = parse_allowed_host)]
    allow_host: Vec<String>,
    /// Port to listen on, on loopback: shorthand for --addr 127.0.0.1:PORT.
    #[arg(long, value_name = "PORT", conflicts_with = "addr")]
    port: Option<u16>,
    /// Open the page in the default web browser.
    #[arg(long)]
    open: bool,
    /// Expression model file [default: the shipped model].
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Let song lists uploaded from the page link the audio files their audio column
    /// names on this computer. Off by default: whoever can reach the server (another
    /// user of this machine, a proxy) could otherwise have any audio file here played
    /// back to them. `moodtune library import` always links them.
    #[arg(long)]
    link_uploaded_audio: bool,
    /// Play the page's playlist in the MPD (Music Player Daemon) at this address as well:
    /// each time the mood (or strategy) changes, MPD's queue is replaced with the new
    /// playlist and played. Port 6600 when none is given; a password is read from
    /// $MOODTUNE_MPD_PASSWORD. MPD trouble is printed here and never stops the page.
    #[arg(long, value_name = "HOST:PORT", requires = "mpd_music_dir")]
    mpd: Option<String>,
    /// MPD's music folder (its `music_directory`) as this computer sees it: songs are
    /// sent by their path inside it; songs outside it are left out.
    #[arg(long, value_name = "DIR", requires = "mpd")]
    mpd_music_dir: Option<PathBuf>,
}

/// Checks an --allow-host value when the command line is read.
fn parse_allowed_host(name: &str) -> Result<String, String> {
    HostAllowlist::loopback().allow(name)?;
    Ok(name.trim().to_string())
}

impl ServeArgs {
    /// The names requests may use: loopback, the --allow-host ones (the server adds the
    /// address it listens on).
    fn allowed_hosts(&self) -> anyhow::Result<HostAllowlist> {
        let mut hosts = HostAllowlist::loopback();
        for name in &self.allow_host {
            hosts.allow(name).map_err(anyhow::Error::msg)?;
        }
        Ok(hosts)
    }

    fn listen_addr(&self) -> SocketAddr {
        match self.port {
            Some(port) => SocketAddr::from(([127, 0, 0, 1], port)),
            None => self.addr,
        }
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    moodtune_web::share_freed_memory_between_threads();
    let addr = args.listen_addr();
    let allowed_hosts = args.allowed_hosts()?;
    let mpd = match (&args.mpd, &args.mpd_music_dir) {
        (Some(addr), Some(dir)) => Some(crate::playlist_cmd::mpd_target(addr, dir)?),
        _ => None,
    };
    let opened = WebApp::open(args.db.as_deref(), args.model.as_deref())?;
    if let Some(report) = opened.demo {
        eprintln!(
            "Installed {} demo songs in {} (import your own library from the page to replace them)",
            report.added,
            opened.db.display()
        );
    }
    let mut app = opened.app.with_upload_audio_links(args.link_uploaded_audio);
    if let Some(target) = mpd {
        app = app.with_mpd(follow_in_mpd(target));
    }
    for line in moodtune_server::exposure_warnings(addr, !args.allow_host.is_empty()) {
        eprintln!("{line}");
    }
    let config = moodtune_server::ServerConfig {
        allowed_hosts,
        ..Default::default()
    };
    let open = args.open;
    moodtune_web::serve(app, addr, config, |addr| {
        let url = if addr.ip().is_unspecified() {
            format!("http://127.0.0.1:{}/", addr.port())
        } else {
            format!("http://{addr}/")
        };
        println!("moodtune is running at {url}  (Ctrl-C stops it)");
        if open {
            open_browser(&url);
        }
    })
    .context("running the web server")?;
    Ok(ExitCode::SUCCESS)
}

/// The MPD follower, reporting on standard error; MPD is asked once at start so a wrong
/// address shows at once (the page runs either way).
fn follow_in_mpd(target: MpdTarget) -> MpdFollower {
    match player::check(&target) {
        Ok(version) => eprintln!(
            "mpd: playing the page's playlists in MPD {version} at {} (music folder {})",
            target.addr,
            target.music_dir.display()
        ),
        Err(e) => eprintln!("mpd: warning: {e:#}; trying again when the mood changes"),
    }
    MpdFollower::start(
        target,
        Box::new(|emotion, _strategy, result| match result {
            Ok(sent) => eprintln!("mpd: {}: {}", emotion.key(), sent.summary()),
            Err(e) => eprintln!("mpd: error: the {} playlist: {e:#}", emotion.key()),
        }),
    )
}

fn open_browser(url: &str) {
    let cmd = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(cmd)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("could not open a browser ({cmd}: {e}); open {url} yourself");
    }
}
