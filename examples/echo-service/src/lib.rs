//! A line-echo TCP server as a [governor](governor_core) service, written
//! once against `governor-core` and run unchanged on tokio, smol and
//! async-std: what a library looks like that ships a whole service without
//! choosing a runtime for its users (see this crate's README).
//!
//! [`Echo`] accepts connections on a listener and serves each in a task of
//! its run ([`ServiceCtx::spawn_named`]): every line a client sends comes
//! back; a line `hash <text>` is answered with a 64-bit FNV-1a digest of
//! `<text>` ([`digest`]), computed on the runtime's blocking pool
//! ([`ServiceCtx::spawn_blocking`]) as CPU-heavy work would be. A client
//! idle for longer than the idle timeout ([`ServiceCtx::timeout`]) is sent
//! `bye: idle` and closed. When the service is asked to stop, the accept
//! loop ends, every connection is sent `bye: shutting down`, its write half
//! is closed and the client's close awaited, and the run ends once each
//! connection's task has: no connection outlives the service (one whose
//! client never closes is aborted at the service's shutdown timeout and
//! named in the report).
//!
//! The sockets are `async-net`'s, which run on their own reactor thread
//! and so on any executor. The only runtime-specific line is in the
//! program that adds the service (see `examples/tokio.rs`, `smol.rs`,
//! `async_std.rs`).
//!
//! ```
//! use echo_service::Echo;
//!
//! let echo = Echo::bind("127.0.0.1:0")?;
//! let stats = echo.stats();
//! // A program would call `governor_smol::run(..)` and run until a signal.
//! let gov = governor_smol::new();
//! gov.add_service("echo", echo)?;
//! gov.start()?;
//! let report = futures_lite::future::block_on(gov.shutdown());
//! assert!(report.is_clean());
//! assert_eq!(stats.open(), 0);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_net::TcpStream;
use futures_lite::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use governor_core::{Interrupted, Service, ServiceCtx, ServiceError, ServiceResult, TimeoutError};

/// The echo service: add it to a governor with `gov.add_service("echo", echo)`.
///
/// Restartable: each run serves the same listener.
#[derive(Debug)]
pub struct Echo {
    listener: TcpListener,
    idle_timeout: Duration,
    stats: Arc<Stats>,
}

/// What the service has done, shared with whoever asked for it
/// ([`Echo::stats`]).
#[derive(Debug, Default)]
pub struct Stats {
    accepted: AtomicU64,
    open: AtomicUsize,
    lines: AtomicU64,
}

impl Stats {
    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Acquire)
    }

    /// Connections being served now (their tasks have not ended).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Lines answered so far.
    pub fn lines(&self) -> u64 {
        self.lines.load(Ordering::Acquire)
    }
}

impl Echo {
    /// Binds a listener on `addr` (port 0 picks a free one: see
    /// [`local_addr`](Echo::local_addr)).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Ok(Echo::from_listener(TcpListener::bind(addr)?))
    }

    /// Serves an already bound listener (e.g. one handed over by a
    /// service manager).
    pub fn from_listener(listener: TcpListener) -> Self {
        Echo {
            listener,
            idle_timeout: Duration::from_secs(60),
            stats: Arc::default(),
        }
    }

    /// How long a client may stay silent before it is closed (60 s by
    /// default).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// The address the service listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The service's counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }
}

impl Service for Echo {
    async fn run(&mut self, ctx: ServiceCtx) -> ServiceResult {
        let listener = async_net::TcpListener::try_from(self.listener.try_clone()?)?;
        ctx.ready();
        loop {
            // The accept ends early, cleanly, once the service is asked
            // to stop; its connections' tasks see the same stop.
            let (stream, peer) = match ctx.until_stop(listener.accept()).await {
                Err(Interrupted) => return Ok(()),
                Ok(accepted) => accepted?,
            };
            self.stats.accepted.fetch_add(1, Ordering::AcqRel);
            let stats = self.stats.clone();
            let idle = self.idle_timeout;
            // Detached: a connection's task ends by itself; if it failed,
            // the run would fail with it (it handles its own I/O errors).
            ctx.spawn_named(&format!("connection {peer}"), move |task| {
                serve(task, stream, idle, stats)
            })
            .detach();
        }
    }
}

/// Counts a connection open while it lives.
struct Open(Arc<Stats>);

impl Open {
    fn new(stats: Arc<Stats>) -> Self {
        stats.open.fetch_add(1, Ordering::AcqRel);
        Open(stats)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves one connection, in a task of the run.
async fn serve(
    task: ServiceCtx,
    stream: TcpStream,
    idle: Duration,
    stats: Arc<Stats>,
) -> Result<(), ServiceError> {
    let open = Open::new(stats);
    let mut reader = BufReader::new(stream.clone());
    let mut writer = stream;
    let mut line = String::new();
    loop {
        line.clear();
        let bye = match task.timeout(idle, reader.read_line(&mut line)).await {
            Ok(Ok(0)) => return Ok(()), // the client closed
            Ok(Ok(_)) => None,
            Ok(Err(error)) => {
                // A client's broken connection is not the service's failure.
                tracing::debug!(%error, "connection lost");
                return Ok(());
            }
            Err(TimeoutError::Elapsed(_)) => Some("bye: idle\n"),
            Err(_) => Some("bye: shutting down\n"),
        };
        if let Some(bye) = bye {
            // A graceful close: say goodbye, close our half, and wait for
            // the client to close its own. A client that never does is cut
            // off with the run at the service's shutdown timeout.
            if writer.write_all(bye.as_bytes()).await.is_ok() && writer.close().await.is_ok() {
                let mut rest = Vec::new();
                let _ = futures_lite::io::AsyncReadExt::read_to_end(&mut reader, &mut rest).await;
            }
            return Ok(());
        }
        let reply = match line.trim_end().strip_prefix("hash ") {
            Some(text) => {
                let text = text.to_owned();
                // CPU-heavy work belongs on the blocking pool.
                let hash = task.spawn_blocking(move |_| Ok(digest(&text))).await?;
                format!("{hash:016x}\n")
            }
            None => line.clone(),
        };
        if writer.write_all(reply.as_bytes()).await.is_err() {
            return Ok(());
        }
        open.0.lines.fetch_add(1, Ordering::AcqRel);
    }
}

/// The 64-bit FNV-1a digest of `text`: what `hash <text>` answers.
pub fn digest(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
