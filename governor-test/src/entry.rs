//! The `#[test]`-friendly entry: [`run`] and its configuration, [`Test`].
//! Each run makes a fresh [`VirtualRuntime`] (seeded or not), drives the
//! test body on it within [`Limits`], drops whatever tasks are left, and
//! turns a deadlock or a passed limit into a failed test (a panic saying
//! which, and the seed if there was one) or, with [`Test::try_run`], into
//! an error. [`Test::explore`] runs a body under many seeds and names the
//! first that fails, so that it can be replayed.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};

use crate::{Limits, Stuck, VirtualRuntime};

/// The environment variable that sets the seed of [`run`] and
/// [`Test::from_env`], and makes [`Test::explore`] replay one seed.
pub const SEED_VAR: &str = "GOVERNOR_TEST_SEED";

/// Runs the test body `body` on a fresh [`VirtualRuntime`] within the
/// default [`Limits`], and returns its output:
/// [`Test::from_env()`](Test::from_env)`.run(body)`, so unseeded unless
/// `GOVERNOR_TEST_SEED` is set.
///
/// ```
/// use std::time::Duration;
///
/// let now = governor_test::run(|rt| async move {
///     rt.sleep(Duration::from_secs(3600)).await;
///     rt.now()
/// });
/// assert_eq!(now, Duration::from_secs(3600));
/// ```
///
/// # Panics
///
/// When the body cannot finish (see [`Test::run`]), when it panics, and
/// when `GOVERNOR_TEST_SEED` is set to something else than a number
/// ([`SeedError`]'s message).
pub fn run<F, Fut>(body: F) -> Fut::Output
where
    F: FnOnce(VirtualRuntime) -> Fut,
    Fut: Future,
{
    match Test::from_env() {
        Ok(test) => test.run(body),
        Err(error) => panic!("governor-test: {error}"),
    }
}

/// `GOVERNOR_TEST_SEED` is set, but not to a seed (a `u64`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedError {
    /// What the variable held.
    pub value: String,
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SEED_VAR}={:?} is not a seed: expected a number from 0 to {}",
            self.value,
            u64::MAX
        )
    }
}

impl std::error::Error for SeedError {}

/// A seed under which a body failed, found by [`Test::try_explore`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedFailure {
    /// The seed: [`Test::seed`] with it (or `GOVERNOR_TEST_SEED`) replays
    /// the failing schedule.
    pub seed: u64,
    /// Why it failed: the panic's message, or the [`Stuck`] error's.
    pub message: String,
}

impl fmt::Display for SeedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed with seed {seed}: {message}\n(replay: {SEED_VAR}={seed} cargo test <this \
             test>, or Test::new().seed({seed}))",
            seed = self.seed,
            message = self.message
        )
    }
}

impl std::error::Error for SeedFailure {}

/// How to run a test body: its [`Limits`] and its seed. [`run`] is
/// `Test::from_env().run`.
///
/// ```
/// use std::time::Duration;
/// use governor_test::{Limits, Stuck, Test};
///
/// let stuck = Test::new()
///     .limits(Limits { virtual_time: Duration::from_secs(60), real_time: None })
///     .try_run(|rt| async move { rt.sleep(Duration::from_secs(61)).await })
///     .unwrap_err();
/// assert!(matches!(stuck, Stuck::PastVirtualLimit { .. }));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Test {
    limits: Limits,
    seed: Option<u64>,
}

impl Test {
    /// The default: [`Limits::default`], unseeded (ready tasks polled in
    /// the order they were woken), whatever the environment says.
    pub fn new() -> Self {
        Test::default()
    }

    /// [`new`](Test::new), seeded with `GOVERNOR_TEST_SEED` if it is set.
    ///
    /// # Errors
    ///
    /// [`SeedError`] when the variable is set to something else than a
    /// number.
    pub fn from_env() -> Result<Self, SeedError> {
        Ok(Test {
            seed: env_seed()?,
            ..Test::default()
        })
    }

    /// Fails the body once it would take more than `limits`.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Seeded mode ([`VirtualRuntime::with_seed`]): ready tasks are polled
    /// in an order picked by a generator seeded with `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Runs `body` on a fresh [`VirtualRuntime`] and returns its output.
    /// Tasks still alive when it ends are dropped before this returns.
    ///
    /// # Panics
    ///
    /// When the body cannot finish, with the [`Stuck`] error's message: a
    /// deadlock (nothing can wake it; the message names the services of
    /// the runtime's governors still waiting), or a passed limit. And when
    /// the body or a task panics. Seeded, the message names the seed, to
    /// replay the run.
    pub fn run<F, Fut>(self, body: F) -> Fut::Output
    where
        F: FnOnce(VirtualRuntime) -> Fut,
        Fut: Future,
    {
        let Some(seed) = self.seed else {
            return match self.try_run(body) {
                Ok(output) => output,
                Err(stuck) => panic!("governor-test: {stuck}"),
            };
        };
        match self.catch(body) {
            Ok(output) => output,
            Err(message) => panic!("governor-test: {}", SeedFailure { seed, message }),
        }
    }

    /// [`run`](Test::run), with a body that cannot finish as an error.
    ///
    /// # Errors
    ///
    /// [`Stuck`]: a deadlock, or a passed limit.
    ///
    /// # Panics
    ///
    /// When the body or a task panics.
    pub fn try_run<F, Fut>(self, body: F) -> Result<Fut::Output, Stuck>
    where
        F: FnOnce(VirtualRuntime) -> Fut,
        Fut: Future,
    {
        let rt = match self.seed {
            Some(seed) => VirtualRuntime::with_seed(seed),
            None => VirtualRuntime::new(),
        };
        let result = rt.try_block_on_within(body(rt.clone()), self.limits);
        rt.shutdown();
        result
    }

    /// Runs `body` once per seed in `seeds`, each on a fresh seeded
    /// runtime, to search the schedules for an ordering bug; with
    /// `GOVERNOR_TEST_SEED` set, runs that seed only (the replay).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// // Two tasks ready at once; the second assumes the first ran before it.
    /// let failure = governor_test::Test::new()
    ///     .try_explore(0..64, |rt| async move {
    ///         let warmed = Arc::new(AtomicBool::new(false));
    ///         let flag = warmed.clone();
    ///         rt.spawn(async move { flag.store(true, Ordering::SeqCst) });
    ///         let (done, wait) = futures_channel::oneshot::channel();
    ///         rt.spawn(async move {
    ///             assert!(warmed.load(Ordering::SeqCst), "read before the warm-up");
    ///             let _ = done.send(());
    ///         });
    ///         let _ = wait.await;
    ///     })
    ///     .unwrap_err();
    /// assert!(failure.message.contains("read before the warm-up"));
    /// ```
    ///
    /// # Panics
    ///
    /// At the first seed under which the body fails, with a message that
    /// names the seed and how to replay it ([`SeedFailure`]); and as
    /// [`run`] for a malformed `GOVERNOR_TEST_SEED`.
    pub fn explore<F, Fut>(self, seeds: Range<u64>, body: F)
    where
        F: FnMut(VirtualRuntime) -> Fut,
        Fut: Future<Output = ()>,
    {
        let seeds = match env_seed() {
            Ok(Some(seed)) => seed..seed.saturating_add(1),
            Ok(None) => seeds,
            Err(error) => panic!("governor-test: {error}"),
        };
        if let Err(failure) = self.try_explore(seeds, body) {
            panic!("governor-test: {failure}");
        }
    }

    /// [`explore`](Test::explore) without the environment, the first
    /// failing seed as an error; returns how many seeds passed.
    ///
    /// # Errors
    ///
    /// [`SeedFailure`]: the first seed under which the body panicked or
    /// could not finish, and why.
    pub fn try_explore<F, Fut>(self, seeds: Range<u64>, mut body: F) -> Result<u64, SeedFailure>
    where
        F: FnMut(VirtualRuntime) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut passed = 0;
        for seed in seeds {
            let test = Test {
                seed: Some(seed),
                ..self.clone()
            };
            test.catch(&mut body)
                .map_err(|message| SeedFailure { seed, message })?;
            passed += 1;
        }
        Ok(passed)
    }

    /// [`try_run`](Test::try_run), with a panic of the body or a task as
    /// an error too (its message).
    fn catch<F, Fut>(self, body: F) -> Result<Fut::Output, String>
    where
        F: FnOnce(VirtualRuntime) -> Fut,
        Fut: Future,
    {
        match panic::catch_unwind(AssertUnwindSafe(|| self.try_run(body))) {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(stuck)) => Err(stuck.to_string()),
            Err(payload) => Err(payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into())),
        }
    }
}

/// `GOVERNOR_TEST_SEED`, if set.
pub(crate) fn env_seed() -> Result<Option<u64>, SeedError> {
    match std::env::var(SEED_VAR) {
        Ok(value) => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| SeedError { value }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(SeedError {
            value: value.to_string_lossy().into_owned(),
        }),
    }
}
