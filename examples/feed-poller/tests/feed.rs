//! The feed poller tested on virtual time with governor-test: each test
//! covers up to an hour of supervision and runs in milliseconds.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use feed_poller::{Config, Exporter, Poller, Store, Upstream, UpstreamError};
use governor_core::{Event, Health, RestartPolicy};
use governor_test::{Fault, Faulty, Test};

const SEC: Duration = Duration::from_secs(1);

/// An upstream that is down during `outages` and otherwise returns one
/// item (the fetch's second); counts the items it handed out.
#[derive(Default)]
struct Scripted {
    outages: Vec<Range<Duration>>,
    served: AtomicUsize,
}

impl Upstream for Scripted {
    fn fetch(&self, at: Duration) -> Result<Vec<u64>, UpstreamError> {
        if self.outages.iter().any(|outage| outage.contains(&at)) {
            return Err(UpstreamError(format!("connection refused at {at:?}")));
        }
        self.served.fetch_add(1, Ordering::SeqCst);
        Ok(vec![at.as_secs()])
    }
}

#[test]
fn an_hour_of_polling_fetches_and_flushes_everything() {
    governor_test::run(|rt| async move {
        let gov = rt.governor();
        let timeline = rt.timeline(&gov);
        let (upstream, store) = (Arc::new(Scripted::default()), Store::default());
        feed_poller::add_to(&gov, upstream.clone(), store.clone(), Config::default())?;
        gov.start()?;
        rt.sleep(3610 * SEC).await;
        let report = gov.shutdown().await;

        // Fetches at 0, 30 s, ..., 3600 s; a flush of two every minute, and
        // the last one at the shutdown.
        assert_eq!(upstream.served.load(Ordering::SeqCst), 121);
        let mut expected: Vec<(Duration, usize)> = (1..=60).map(|k| (60 * k * SEC, 2)).collect();
        expected.push((3610 * SEC, 1));
        assert_eq!(store.flushes(), expected);
        assert_eq!(store.pending(), 0);

        assert!(report.is_clean(), "{report:?}");
        assert_eq!(timeline.run_starts("poller"), [Duration::ZERO]);
        timeline.assert_stopped_in_order(&["exporter", "poller"]);
        Ok::<(), governor_core::Error>(())
    })
    .unwrap();
}

#[test]
fn an_outage_degrades_the_poller_then_restarts_it_until_it_recovers() {
    governor_test::run(|rt| async move {
        let gov = rt.governor();
        let timeline = rt.timeline(&gov);
        let upstream = Arc::new(Scripted {
            outages: vec![600 * SEC..800 * SEC],
            ..Scripted::default()
        });
        let store = Store::default();
        feed_poller::add_to(&gov, upstream.clone(), store.clone(), Config::default())?;
        gov.start()?;
        rt.sleep(3600 * SEC).await;
        let report = gov.shutdown().await;

        // Three failures in a row end a run: at 600, 630, 660 s; at 661,
        // 691, 721 s; at 722, 752, 782 s. Each failing run lasted 60 s, more
        // than the backoff's reset (30 s), so each restart waits the first
        // delay, 1 s. The fourth run, at 783 s, fails once and recovers at
        // 813 s.
        timeline.assert_restarted_at("poller", &[661 * SEC, 722 * SEC, 783 * SEC]);
        let health: Vec<(Duration, bool)> = timeline
            .of("poller")
            .into_iter()
            .filter_map(|entry| match entry.event {
                Event::HealthChanged { health, .. } => Some((entry.at, health == Health::Healthy)),
                _ => None,
            })
            .collect();
        assert_eq!(
            health,
            // Degraded at each failure (a new reason, the time it names);
            // healthy again as each run begins, and at the recovery.
            [
                (600 * SEC, false),
                (630 * SEC, false),
                (661 * SEC, true),
                (661 * SEC, false),
                (691 * SEC, false),
                (722 * SEC, true),
                (722 * SEC, false),
                (752 * SEC, false),
                (783 * SEC, true),
                (783 * SEC, false),
                (813 * SEC, true),
            ]
        );
        // The exporter never stopped, and nothing fetched was lost.
        assert_eq!(timeline.run_starts("exporter"), [Duration::ZERO]);
        assert_eq!(
            store.flushed_items(),
            upstream.served.load(Ordering::SeqCst)
        );
        assert_eq!(report.service("poller").unwrap().restarts, 3);
        assert!(report.is_clean(), "{report:?}");
        Ok::<(), governor_core::Error>(())
    })
    .unwrap();
}

#[test]
fn a_panicking_first_run_delays_the_exporter_until_the_poller_is_ready() {
    governor_test::run(|rt| async move {
        let gov = rt.governor();
        let timeline = rt.timeline(&gov);
        let (upstream, store, config) = (
            Arc::new(Scripted::default()),
            Store::default(),
            Config::default(),
        );
        // The application's own wiring, with a fault on the poller's first run.
        let poller = Faulty::new(Poller::new(upstream.clone(), store.clone(), config))
            .on_run(1, Fault::Panic("feed parser bug".into()));
        gov.add_service("poller", poller)?
            .notify_ready()
            .restart_policy(RestartPolicy::on_failure(SEC));
        gov.add_service("exporter", Exporter::new(store.clone(), config))?
            .depends_on(["poller"]);
        gov.start()?;
        rt.sleep(600 * SEC).await;
        gov.shutdown().await;

        timeline.assert_restarted_at("poller", &[SEC]);
        assert_eq!(timeline.run_starts("exporter"), [SEC]);
        // Fetches at 1 s and 31 s; the one at 61 s comes after the flush.
        assert_eq!(store.flushes()[0], (61 * SEC, 2));
        assert_eq!(
            store.flushed_items(),
            upstream.served.load(Ordering::SeqCst)
        );
        Ok::<(), governor_core::Error>(())
    })
    .unwrap();
}

#[test]
fn no_schedule_loses_fetched_items_at_shutdown() {
    Test::new().explore(0..64, |rt| async move {
        let gov = rt.governor();
        let upstream = Arc::new(Scripted {
            outages: vec![100 * SEC..200 * SEC],
            ..Scripted::default()
        });
        let store = Store::default();
        feed_poller::add_to(&gov, upstream.clone(), store.clone(), Config::default()).unwrap();
        gov.start().unwrap();
        rt.sleep(600 * SEC).await;
        let report = gov.shutdown().await;
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(store.pending(), 0);
        assert_eq!(
            store.flushed_items(),
            upstream.served.load(Ordering::SeqCst)
        );
    });
}
