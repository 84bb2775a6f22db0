//! `moodtune serve`: the local web app.
//!
//! One page (embedded in the binary, no CDN, no build step) shows the webcam, posts a
//! few downscaled frames a second to `/api/analyze`, draws face boxes and emotion bars,
//! and plays a playlist for the smoothed mood. Everything the page needs from the rest of
//! moodtune goes through the [`Backend`] trait.
//!
//! Safety rules kept here: frames are analysed in memory and never stored or logged;
//! request bodies are size-limited per endpoint; audio is only served by song id through
//! [`Backend::audio_path`], never by a path from the client, and only audio types
//! ([`audio_mime`]), sandboxed; state-changing requests from other sites' pages are
//! refused, and so is any cross-site request to the API (a foreign page cannot embed or
//! enumerate the library's audio); every error is JSON with a message; a bad request
//! never takes the server down (backend panics become 500s); connections are capped and
//! must send their headers in time ([`ConnectionLimits`]).

mod assets;
pub mod backend;
mod connections;
#[cfg(feature = "fake")]
pub mod fake;
mod hosts;
mod routes;
pub mod session;

pub use backend::{
    Analysis, Backend, BackendError, BackendInfo, BackendResult, FaceBox, FaceResult, FeedbackKind,
    ImportProgress, ImportSummary, PlaylistFileFormat, Recommendation, Song, SongId, SongPage,
    Strategy,
};
pub use connections::ConnectionLimits;
pub use hosts::{exposure_warnings, is_loopback_ip, HostAllowlist};
pub use routes::audio_mime;
pub use session::{Mood, MoodSmoother};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// Limits and switches of the server. [`ServerConfig::default`] is what `moodtune serve`
/// uses.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest camera frame or photo accepted by `/api/analyze`.
    pub frame_limit: usize,
    /// Largest spreadsheet or CSV accepted by `/api/import`.
    pub upload_limit: usize,
    /// Largest JSON body of the other endpoints.
    pub json_limit: usize,
    /// Sessions (browser tabs) remembered at once; the least recently seen is dropped.
    pub max_sessions: usize,
    /// Frames analysed at the same time; more wait their turn, so a burst of clients
    /// queues instead of starving the machine.
    pub analyze_concurrency: usize,
    /// The `Host` names answered (anything else is a 403: guards against DNS
    /// rebinding from a web site) and the origins whose pages may change state.
    /// Loopback names always; [`run_blocking`] adds the address it listens on.
    pub allowed_hosts: HostAllowlist,
    /// Open connections at most, and the deadline for a request's headers.
    pub connections: ConnectionLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            frame_limit: 2 << 20,
            upload_limit: 20 << 20,
            json_limit: 64 << 10,
            max_sessions: 256,
            analyze_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            allowed_hosts: HostAllowlist::loopback(),
            connections: ConnectionLimits::default(),
        }
    }
}

/// The whole app as an axum router.
pub fn router(backend: Arc<dyn Backend>, config: ServerConfig) -> axum::Router {
    routes::router(backend, config)
}

/// Serves `app` on an already bound listener within `limits` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    connections::serve(listener, app, limits, shutdown).await
}

/// Binds `addr`, calls `on_ready` with the bound address (the port may have been 0), and
/// serves until Ctrl-C. The bound address joins `config.allowed_hosts`. Blocks the
/// calling thread; builds its own tokio runtime.
pub fn run_blocking(
    backend: Arc<dyn Backend>,
    addr: SocketAddr,
    mut config: ServerConfig,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        let bound = listener.local_addr()?;
        config.allowed_hosts.add_bound(bound);
        on_ready(bound);
        let limits = config.connections;
        serve(listener, router(backend, config), limits, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    })
}
