//! A small application service, and how to test it on virtual time.
//!
//! Two services: the **poller** fetches a feed from an upstream every
//! [`Config::poll_every`] into a [`Store`]; it reports ready after its
//! first good fetch, degraded while fetches fail, and gives up its run
//! (to be restarted with backoff) after [`Config::max_failures`] failures
//! in a row. The **exporter**, which depends on the poller, flushes what
//! the store holds every [`Config::flush_every`], and once more when it
//! is asked to stop, so that nothing fetched is lost at shutdown.
//!
//! The library names no runtime. Its tests (`tests/feed.rs`) run it on
//! `governor-test`'s virtual clock against a scripted upstream: an hour of
//! polling, an outage, restarts with backoff and the shutdown order, all
//! exact, in well under a second.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use feed_poller::{Config, Store, Upstream, UpstreamError};
//!
//! struct Always;
//! impl Upstream for Always {
//!     fn fetch(&self, _at: Duration) -> Result<Vec<u64>, UpstreamError> {
//!         Ok(vec![1, 2])
//!     }
//! }
//!
//! governor_test::run(|rt| async move {
//!     let gov = rt.governor();
//!     let store = Store::default();
//!     feed_poller::add_to(&gov, Arc::new(Always), store.clone(), Config::default())?;
//!     gov.start()?;
//!     rt.sleep(Duration::from_secs(3600)).await;
//!     gov.shutdown().await;
//!     // 120 fetches (at 0, 30 s, ..., 3570 s) of 2 items, all flushed.
//!     assert_eq!(store.flushed_items(), 240);
//!     Ok::<(), governor_core::Error>(())
//! })?;
//! # Ok::<(), governor_core::Error>(())
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor_core::{
    Backoff, Error, Governor, Health, RestartPolicy, Service, ServiceCtx, ServiceError,
    ServiceResult,
};

/// Where the feed comes from (a client of some HTTP API, in a real
/// program; a script, in tests).
pub trait Upstream: Send + Sync + 'static {
    /// Fetches the items new since the last call; `at` is the runtime's
    /// clock.
    ///
    /// # Errors
    ///
    /// [`UpstreamError`] when the upstream cannot be reached.
    fn fetch(&self, at: Duration) -> Result<Vec<u64>, UpstreamError>;
}

/// The upstream could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError(pub String);

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upstream unreachable: {}", self.0)
    }
}

impl std::error::Error for UpstreamError {}

/// How often things happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Between two fetches (30 s).
    pub poll_every: Duration,
    /// Between two flushes (60 s).
    pub flush_every: Duration,
    /// Failed fetches in a row that end the poller's run (3).
    pub max_failures: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            poll_every: Duration::from_secs(30),
            flush_every: Duration::from_secs(60),
            max_failures: 3,
        }
    }
}

/// The items fetched and not yet flushed, and the flushes so far. Cheap
/// to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Store {
    inner: Arc<Mutex<StoreInner>>,
}

#[derive(Debug, Default)]
struct StoreInner {
    pending: Vec<u64>,
    /// (when, how many items) per flush that had any.
    flushes: Vec<(Duration, usize)>,
}

impl Store {
    fn lock(&self) -> std::sync::MutexGuard<'_, StoreInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, items: Vec<u64>) {
        self.lock().pending.extend(items);
    }

    /// Flushes what is pending (a real exporter would write it out).
    fn flush(&self, at: Duration) {
        let mut inner = self.lock();
        let items = std::mem::take(&mut inner.pending).len();
        if items > 0 {
            inner.flushes.push((at, items));
        }
    }

    /// Items fetched and not yet flushed.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Every flush that had items: (when, how many).
    pub fn flushes(&self) -> Vec<(Duration, usize)> {
        self.lock().flushes.clone()
    }

    /// Items flushed so far.
    pub fn flushed_items(&self) -> usize {
        self.lock().flushes.iter().map(|(_, n)| n).sum()
    }
}

/// The poller service (name `"poller"` in [`add_to`]).
pub struct Poller {
    upstream: Arc<dyn Upstream>,
    store: Store,
    config: Config,
}

impl Poller {
    /// A poller of `upstream` into `store`.
    pub fn new(upstream: Arc<dyn Upstream>, store: Store, config: Config) -> Self {
        Poller {
            upstream,
            store,
            config,
        }
    }
}

impl Service for Poller {
    async fn run(&mut self, ctx: ServiceCtx) -> ServiceResult {
        let mut failures = 0;
        loop {
            match self.upstream.fetch(ctx.now()) {
                Ok(items) => {
                    failures = 0;
                    self.store.add(items);
                    ctx.set_health(Health::Healthy);
                    ctx.ready();
                }
                Err(error) => {
                    failures += 1;
                    if failures >= self.config.max_failures {
                        return Err(ServiceError::new(error));
                    }
                    ctx.set_health(Health::degraded(error.to_string()));
                }
            }
            ctx.sleep(self.config.poll_every).await?;
        }
    }
}

/// The exporter service (name `"exporter"` in [`add_to`]).
pub struct Exporter {
    store: Store,
    config: Config,
}

impl Exporter {
    /// An exporter of `store`.
    pub fn new(store: Store, config: Config) -> Self {
        Exporter { store, config }
    }
}

impl Service for Exporter {
    async fn run(&mut self, ctx: ServiceCtx) -> ServiceResult {
        while ctx.sleep(self.config.flush_every).await.is_ok() {
            self.store.flush(ctx.now());
        }
        // Asked to stop: the last flush, so that nothing fetched is lost.
        self.store.flush(ctx.now());
        Ok(())
    }
}

/// Adds the poller (ready after its first good fetch; restarted on failure
/// after 1 s, doubling up to 1 min) and the exporter (after the poller is
/// ready; restarted after 1 s) to `gov`.
///
/// # Errors
///
/// As [`Governor::add`]: a name already taken, or adding after shutdown.
pub fn add_to(
    gov: &Governor,
    upstream: Arc<dyn Upstream>,
    store: Store,
    config: Config,
) -> Result<(), Error> {
    const SEC: Duration = Duration::from_secs(1);
    gov.add_service("poller", Poller::new(upstream, store.clone(), config))?
        .notify_ready()
        .restart_policy(RestartPolicy::on_failure(SEC).backoff(Backoff::new(SEC, 60 * SEC)));
    gov.add_service("exporter", Exporter::new(store, config))?
        .depends_on(["poller"])
        .restart_policy(RestartPolicy::on_failure(SEC));
    Ok(())
}
