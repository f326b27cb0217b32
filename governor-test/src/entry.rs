//! The `#[test]`-friendly entry: [`run`] and its configuration, [`Test`].
//! Each call makes a fresh [`VirtualRuntime`], drives the test body on it
//! within [`Limits`], drops whatever tasks are left, and turns a deadlock
//! or a passed limit into a failed test (a panic saying which) or, with
//! [`Test::try_run`], into an error.

use std::future::Future;

use crate::{Limits, Stuck, VirtualRuntime};

/// Runs the test body `body` on a fresh [`VirtualRuntime`] within the
/// default [`Limits`], and returns its output: [`Test::new().run(body)`](Test::run).
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
/// When the body cannot finish (see [`Test::run`]), and when it panics.
pub fn run<F, Fut>(body: F) -> Fut::Output
where
    F: FnOnce(VirtualRuntime) -> Fut,
    Fut: Future,
{
    Test::new().run(body)
}

/// How to run a test body: its [`Limits`]. [`run`] is
/// `Test::new().run`.
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
}

impl Test {
    /// The default: [`Limits::default`].
    pub fn new() -> Self {
        Test::default()
    }

    /// Fails the body once it would take more than `limits`.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
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
    /// the body or a task panics.
    pub fn run<F, Fut>(self, body: F) -> Fut::Output
    where
        F: FnOnce(VirtualRuntime) -> Fut,
        Fut: Future,
    {
        match self.try_run(body) {
            Ok(output) => output,
            Err(stuck) => panic!("governor-test: {stuck}"),
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
        let rt = VirtualRuntime::new();
        let result = rt.try_block_on_within(body(rt.clone()), self.limits);
        rt.shutdown();
        result
    }
}
