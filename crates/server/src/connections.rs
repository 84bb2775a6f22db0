//! The accept loop: HTTP/1.1 connections under a cap, each with a deadline for its
//! request headers.
//!
//! Why not `axum::serve`: it neither caps connections nor times out clients that never
//! finish their headers, so a few hundred idle sockets exhaust the file limit and the
//! page stops answering. Here a connection is accepted only with a permit, and one that
//! sends no complete request head within the deadline (also while idle between
//! keep-alive requests) is closed, which returns its permit.

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How many clients are served at once and how long each may take to send its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most; further clients wait in the listen backlog until one
    /// closes. Kept well below the usual 1,024 open-file limit, which also covers the
    /// database, the audio files being served and the decoders.
    pub max_connections: usize,
    /// A connection that has not sent a whole request head this long after it opened
    /// (or after its last answer) is closed.
    pub header_read_timeout: Duration,
    /// On shutdown, connections still busy after this long are dropped.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 128,
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then waits up
/// to `limits.shutdown_grace` for the connections in flight.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors or a connection reset before it was taken:
                    // the listener itself is fine, so pause and go on.
                    eprintln!("moodtune serve: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's (garbage, a reset, a timeout): nothing to do.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {}
    }
    Ok(())
}
