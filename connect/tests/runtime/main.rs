//! Runtime scenario tests: each file is one behaviour of the supervised runtime,
//! exercised through the real actors with the mock connectors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod checkpoint_only_batches_are_not_held_back;
mod dead_letter_receives_exactly_the_failed_events;
mod exclusive_targets_are_refused;
mod failed_pipeline_does_not_stop_others;
mod file_source_dead_letters_hold_the_whole_line;
mod flushing_is_adaptive;
mod graceful_shutdown_commits_final_offsets;
mod kill_nine_file_pipeline;
mod lag_is_event_time_to_write;
mod large_rows_bound_the_window_in_bytes;
mod max_consecutive_failures_marks_failed;
mod panic_in_source_is_supervised;
mod positioned_sink_rejects_are_disposed_before_the_position;
mod rate_limit_and_transform_counts;
mod retryable_sink_errors_retry_in_place;
mod sink_failure_restarts_from_committed_state;
mod sink_position_makes_restarts_exactly_once;
mod sinks_that_hold_events_are_acknowledged_once_stored;
mod skip_counts_and_acks;
mod slow_sink_bounds_memory;
mod stop_commits_nothing_past_failure;
mod supervision_reports_exactly;
mod topics_fan_out;
mod transforms_in_place;
mod two_runtimes_same_names_in_one_process;
