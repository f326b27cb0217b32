//! The conformance cases, written once and run against every runtime.
//!
//! Each case is `pub async fn name<H: Harness>(h: &H)` and is listed in
//! [`for_each_case!`](crate::for_each_case), which the
//! [`conformance_suite!`](crate::conformance_suite) macro expands into one
//! `#[test]` per case for a runtime. The cases assert observed behaviour:
//! order of events, counts, outcomes and (on virtual time, exactly)
//! durations. They never sleep to synchronise: services report through a
//! [`Journal`](crate::support::Journal) that the case awaits.
//!
//! - [`seed`]: what the Go governor promises, in Rust form.
//! - [`supervision`]: restart policies, limits, dependencies, readiness,
//!   ordered and bounded shutdown, events, status, handles, subtrees.
//! - [`faults`]: the fault catalogue: wedged services, panics everywhere,
//!   restart storms, racing threads, a dropped governor.
//! - [`locks`]: user code that calls back into the governor or panics
//!   where the governor holds a lock; stale contexts; services that
//!   never ran; values dropped before `shutdown` returns.
//! - [`proof`]: promises the others leave unwalked (a user error's
//!   panicking `Display` on the default log and in the report).
//! - [`first_minutes`]: what a new user tries first: the report after the
//!   last governor handle is gone, a start refused by a shutdown, the
//!   times of runs and of the shutdown.
//! - [`tasks`]: tasks scoped to a run, blocking work, timeouts and
//!   intervals from the service's context.
//! - [`ecosystem`]: event observers beside the hook, and a governor shut
//!   down by a trigger of the program's own.
//! - [`removal`]: services that leave: `remove`, and services forgotten
//!   once they end for good.
//! - [`liveness`]: the heartbeat watchdog: hung runs declared at their
//!   deadline, stopped, recorded and restarted; busy runs spared.
//! - [`health`]: health set by services, aggregated and reported.
//! - [`propagation`]: restarts and ends that follow a dependency's
//!   (PartOf, BindsTo) and the group strategies (one-for-all,
//!   rest-for-one) with the group's restart limit.
//!
//! Every case applies to every runtime; none is skipped.
//!
//! Without the crate's `std` feature only the cases that need no `std`
//! from governor-core exist; [`for_each_nostd_case!`](crate::for_each_nostd_case)
//! lists them.

// Without `std`, the imports and helpers of the gated cases go unused.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

pub mod budget;
pub mod ecosystem;
pub mod exit_codes;
pub mod faults;
pub mod first_minutes;
pub mod health;
pub mod liveness;
pub mod locks;
pub mod policy_paths;
pub mod proof;
pub mod propagation;
pub mod removal;
pub mod seed;
pub mod shutdown_paths;
pub mod signal_config;
pub mod supervision;
pub mod tasks;
pub mod tokens;

pub use budget::*;
pub use ecosystem::*;
pub use exit_codes::*;
pub use faults::*;
pub use first_minutes::*;
pub use health::*;
pub use liveness::*;
pub use locks::*;
pub use policy_paths::*;
pub use proof::*;
pub use propagation::*;
pub use removal::*;
pub use seed::*;
pub use shutdown_paths::*;
pub use signal_config::*;
pub use supervision::*;
pub use tasks::*;
pub use tokens::*;

/// Lists every case for `$m!($make, case, case, ...)` (called once per
/// list: the cases that need no `std` from governor-core, then those that
/// do), so that each case is named once.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_case {
    ($m:path, $make:expr) => {
        $crate::for_each_nostd_case!($m, $make);
        $crate::for_each_std_case!($m, $make);
    };
}

/// Lists, for `$m!($make, case, case, ...)`, the cases that need `std`
/// from governor-core: blocking services, panics the governor must catch
/// (in services, hooks or `Display`), and `shutdown()` awaited from inside
/// a service. A new case belongs here only if it needs one of those.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_std_case {
    ($m:path, $make:expr) => {
        $m!(
            $make,
            shutdown_from_inside_a_service,
            governor_default_restart_applies,
            every_outcome_is_recorded,
            stop_service_is_never_restarted,
            stop_hook_unblocks_a_blocking_socket_read,
            panicking_stop_hook_does_not_stop_shutdown,
            blocking_sleep_wakes_on_stop,
            blocking_service_restarts,
            on_failure_restarts_failures_not_clean_returns,
            blocking_service_that_ignores_stop_is_abandoned,
            events_trace_the_lifecycle,
            panicking_event_hook_is_caught,
            wedged_services_are_named_at_the_timeout,
            panics_everywhere_are_survived_and_recorded_once,
            panicking_error_drop_keeps_the_restart_decision,
            refused_and_cancelled_services_drop_outside_locks,
            shutdown_awaited_inside_a_dependent_returns,
            wait_for_shutdown_inside_dependents_returns,
            parent_shutdown_awaited_inside_a_subtree_returns,
            outside_wait_includes_the_clean_up_after_an_inside_wait,
            shutdown_awaited_inside_an_unready_dependency_returns,
            forced_shutdown_still_stops_every_run_once,
            critical_service_ending_well_shuts_down_cleanly,
            handle_restart_survives_an_abort,
            panicking_error_display_is_survived_in_log_and_report,
            a_task_panic_fails_the_run,
            awaited_handles_yield_panics_and_blocking_results,
            observers_see_every_event_beside_the_hook,
            hung_blocking_service_is_abandoned_and_restarted,
            panicking_signal_callback_is_caught,
        );
    };
}

/// Lists, for `$m!($make, case, case, ...)`, the cases that need no `std`
/// from governor-core: every case but those of [`for_each_std_case!`].
/// `governor-nostd-check` runs them against the core built without `std`;
/// a new case that needs no `std` belongs here.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_nostd_case {
    ($m:path, $make:expr) => {
        $m!(
            $make,
            services_start_on_start_not_before,
            second_start_starts_only_new_services,
            service_added_after_start_and_started_alone_runs,
            started_service_runs_once_even_if_stopped_at_once,
            shutdown_cancels_runs_hooks_and_waits_for_every_service,
            second_shutdown_is_harmless,
            wait_returns_when_all_services_end_by_themselves,
            wait_returns_after_shutdown,
            wait_returns_at_once_without_started_services,
            no_restart_by_default,
            per_service_policy_wins_over_default,
            zero_delay_restart_works,
            restart_delay_is_respected,
            no_restart_once_shutdown_is_requested,
            until_stopped_races_a_future_against_stop,
            sleep_ends_on_time_or_early_on_stop,
            context_sleeps_dropped_raced_and_cloned,
            stopping_flips_at_shutdown_and_global_token_is_cancelled,
            stop_hooks_run_once_after_cancellation,
            bad_names_are_refused,
            add_and_start_after_shutdown_are_refused,
            caught_signal_shuts_down_gracefully,
            backoff_delays_are_exact,
            backoff_resets_after_a_healthy_run,
            jittered_backoff_stays_in_its_band,
            restart_limit_gives_up_and_others_carry_on,
            restart_limit_window_slides,
            escalation_shuts_the_governor_down_naming_the_service,
            critical_service_ending_shuts_the_governor_down,
            dependents_start_once_dependencies_are_ready,
            readiness_resets_on_restart,
            start_wait_ready_times_out_naming_the_service,
            wait_ready_reports_unknown_and_ended_services,
            unknown_dependency_and_cycle_start_nothing,
            dependency_ending_unready_fails_its_dependents,
            shutdown_stops_a_dependency_chain_in_reverse_order,
            shutdown_timeout_aborts_at_exactly_the_timeout,
            force_shutdown_aborts_everything_at_once,
            second_signal_forces_the_shutdown,
            status_shows_each_state,
            handle_stops_one_service_alone,
            handle_restarts_a_service_now,
            run_token_passes_on_unless_the_run_was_asked_to_stop,
            subtree_runs_and_stops_with_its_parent,
            failing_subtree_is_restarted_by_its_parent,
            restart_storm_escalates_with_bounded_events,
            shutdown_races_add_start_and_stop_from_threads,
            dropped_governor_stops_every_service,
            a_service_cannot_restart_itself_past_its_policy,
            every_stop_of_the_governor_names_its_cause,
            depends_on_iterator_may_call_back_into_the_governor,
            previous_error_drop_may_call_back_into_the_governor,
            stale_context_on_stop_runs_at_once_not_with_a_later_run,
            replaced_event_hook_drops_outside_locks,
            wait_ready_never_names_an_empty_service,
            services_that_never_ran_record_an_outcome,
            part_of_chain_of_three_restarts_in_dependency_order,
            binds_to_chain_of_three_ends_with_its_dependency,
            one_for_all_restarts_all_in_order,
            rest_for_one_restarts_the_member_and_those_after_it,
            group_restart_limit_gives_up_and_escalates,
            subtree_group_giving_up_fails_its_parents_run,
            bound_dependencies_refuse_unknown_names_and_cycles,
            shutdown_returns_after_service_values_are_dropped,
            supervisor_dropped_before_its_first_poll_is_counted_out_once,
            settings_changed_after_start_apply,
            restart_decisions_are_constant_time_and_logged_by_trouble,
            events_follow_the_record_they_describe,
            remove_stops_a_running_service_and_frees_its_name,
            remove_pending_and_ended_services,
            removing_a_dependency_of_a_running_service_is_refused,
            forgotten_service_delivers_its_final_outcome,
            forgotten_services_leave_no_records_under_churn,
            removal_races_add_start_stop_and_shutdown_from_threads,
            shutdown_ending_an_unready_dependency_leaves_dependents_not_run,
            stop_of_an_ended_service_returns_false,
            a_handle_stop_is_told_with_its_cause,
            a_stop_asked_for_during_the_runs_last_poll_still_calls_its_hooks,
            owned_stop_future_follows_the_run,
            report_and_cause_outlive_the_last_governor_handle,
            start_refused_by_shutdown_is_told_apart_from_never_started,
            reports_carry_run_and_shutdown_times,
            tasks_see_the_stop_and_the_run_ends_after_them,
            a_task_failure_fails_the_run_and_restarts_by_policy,
            awaited_handles_yield_output_and_error,
            an_aborted_task_ends_at_once,
            a_task_sees_its_stops_whether_it_looked_or_not,
            tasks_of_a_run_that_returns_early_are_stopped_and_waited_for,
            tasks_ignoring_the_stop_are_aborted_at_the_timeout_and_named,
            ten_thousand_tasks_are_all_accounted_for,
            timeout_fires_or_not_or_is_interrupted,
            interval_ticks_and_skips_missed_ticks,
            shutdown_on_a_trigger_shuts_the_governor_down,
            shutdown_on_trigger_ends_with_the_governor,
            hung_run_is_declared_at_its_timeout_stopped_and_restarted,
            busy_run_is_not_declared_hung,
            zero_watchdog_is_off_and_a_hang_at_shutdown_is_not_restarted,
            health_is_aggregated_worst_first_and_reported,
            exit_codes_are_the_documented_distinct_numbers,
            clean_shutdown_exits_zero_even_on_sigterm,
            failed_run_exits_one,
            escalation_exits_69,
            critical_failure_exits_70_and_a_clean_end_0,
            aborted_service_exits_75,
            forced_shutdown_exits_130,
            no_shutdown_and_no_failure_exits_zero,
            each_signal_action_does_what_it_says,
            second_shutdown_signal_forces_and_reload_signals_do_not,
            reload_reaches_each_service_exactly_once_per_reload,
            reloads_while_busy_are_each_handed_out,
            reload_right_after_ready_reaches_the_run,
            reload_racing_shutdown_loses_nothing,
            budget_splits_evenly_across_a_chain_of_phases,
            unused_share_passes_on_and_own_timeouts_cap_the_share,
            drain_delay_keeps_serving_then_stops_within_the_budget,
            force_during_the_drain_ends_it_at_once,
            drain_not_shorter_than_the_budget_is_refused,
            second_signal_during_the_drain_forces,
        );
    };
}
