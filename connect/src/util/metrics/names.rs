//! The names of the metrics the runtime records (and serves on `/metrics`).
//!
//! Per pipeline (label `pipeline`): [`EVENTS_READ`], [`EVENTS_WRITTEN`],
//! [`EVENTS_DROPPED`], [`EVENTS_FAILED`], [`EVENTS_DEAD_LETTERED`],
//! [`BYTES_WRITTEN`], [`RESTARTS`], [`COMMITS`], [`IN_FLIGHT_EVENTS`],
//! [`LAG_MS`] and [`PIPELINE_UP`] (labels `pipeline`, `state`).
//! Per source (labels `pipeline`, `source`): [`SOURCE_EVENTS`],
//! [`SOURCE_BYTES`], [`SOURCE_LAG_SECONDS`].
//! Per sink (labels `pipeline`, `sink`): [`SINK_EVENTS`], [`SINK_ERRORS`],
//! [`SINK_LATENCY_SECONDS`]. For the runtime: [`UPTIME_SECONDS`].

use metrics::{Recorder, SharedString, Unit};

/// Counter: data events read from the source.
pub const EVENTS_READ: &str = "rivven_connect_events_read_total";
/// Counter: events durably written by the sink.
pub const EVENTS_WRITTEN: &str = "rivven_connect_events_written_total";
/// Counter: events dropped by transforms.
pub const EVENTS_DROPPED: &str = "rivven_connect_events_dropped_total";
/// Counter: events rejected and skipped (`on_error: skip`).
pub const EVENTS_FAILED: &str = "rivven_connect_events_failed_total";
/// Counter: events written to the dead-letter sink.
pub const EVENTS_DEAD_LETTERED: &str = "rivven_connect_events_dead_lettered_total";
/// Counter: bytes written by the sink.
pub const BYTES_WRITTEN: &str = "rivven_connect_bytes_written_total";
/// Counter: pipeline restarts after failures.
pub const RESTARTS: &str = "rivven_connect_restarts_total";
/// Counter: offset commits.
pub const COMMITS: &str = "rivven_connect_commits_total";
/// Gauge: events read but not yet acknowledged.
pub const IN_FLIGHT_EVENTS: &str = "rivven_connect_in_flight_events";
/// Gauge: event-time lag of the newest durable write, in milliseconds.
pub const LAG_MS: &str = "rivven_connect_lag_ms";
/// Gauge: 1 when the pipeline runs or completed, else 0; one series per
/// state the pipeline has been in (label `state`), only the current one can be 1.
pub const PIPELINE_UP: &str = "rivven_connect_pipeline_up";
/// Counter: data events the source produced.
pub const SOURCE_EVENTS: &str = "rivven_connect_source_events_total";
/// Counter: approximate payload bytes the source produced.
pub const SOURCE_BYTES: &str = "rivven_connect_source_bytes_total";
/// Gauge: [`LAG_MS`] in seconds, by source.
pub const SOURCE_LAG_SECONDS: &str = "rivven_connect_source_lag_seconds";
/// Counter: events the sink wrote.
pub const SINK_EVENTS: &str = "rivven_connect_sink_events_total";
/// Counter: sink write calls that failed (retried ones included) plus
/// records the sink rejected.
pub const SINK_ERRORS: &str = "rivven_connect_sink_errors_total";
/// Histogram (a summary with quantiles): duration of one sink write call.
pub const SINK_LATENCY_SECONDS: &str = "rivven_connect_sink_latency_seconds";
/// Gauge: seconds since the runtime started.
pub const UPTIME_SECONDS: &str = "rivven_connect_uptime_seconds";

/// Gauge (label `topic`): offset of the next event appended to an embedded topic.
pub const TOPIC_END_OFFSET: &str = "rivven_connect_topic_end_offset";
/// Gauge (label `topic`): events an embedded topic holds in memory.
pub const TOPIC_BUFFERED: &str = "rivven_connect_topic_buffered_events";
/// Gauge (labels `topic`, `group`): a consumer group's committed offset.
pub const TOPIC_COMMITTED_OFFSET: &str = "rivven_connect_topic_committed_offset";
/// Gauge (labels `topic`, `group`): events appended and not yet acknowledged by the group.
pub const TOPIC_LAG: &str = "rivven_connect_topic_lag_events";

/// Register the help text of every runtime metric with `recorder`.
pub(crate) fn describe(recorder: &dyn Recorder) {
    let counters: [(&'static str, &'static str, Option<Unit>); 12] = [
        (EVENTS_READ, "Events read from the source", None),
        (EVENTS_WRITTEN, "Events durably written by the sink", None),
        (EVENTS_DROPPED, "Events dropped by transforms", None),
        (EVENTS_FAILED, "Events rejected and skipped", None),
        (
            EVENTS_DEAD_LETTERED,
            "Events written to the dead-letter sink",
            None,
        ),
        (
            BYTES_WRITTEN,
            "Bytes written by the sink",
            Some(Unit::Bytes),
        ),
        (RESTARTS, "Pipeline restarts after failures", None),
        (COMMITS, "Offset commits", None),
        (SOURCE_EVENTS, "Data events the source produced", None),
        (
            SOURCE_BYTES,
            "Approximate payload bytes the source produced",
            Some(Unit::Bytes),
        ),
        (SINK_EVENTS, "Events the sink wrote", None),
        (
            SINK_ERRORS,
            "Failed sink write calls (retries included) plus records the sink rejected",
            None,
        ),
    ];
    for (name, help, unit) in counters {
        recorder.describe_counter(name.into(), unit, SharedString::const_str(help));
    }
    let gauges: [(&'static str, &'static str, Option<Unit>); 9] = [
        (
            IN_FLIGHT_EVENTS,
            "Events read but not yet acknowledged",
            None,
        ),
        (
            LAG_MS,
            "Event time of the newest durable write to when it was written (CDC: commit to sink), ms",
            Some(Unit::Milliseconds),
        ),
        (
            PIPELINE_UP,
            "1 when the pipeline runs or completed",
            None,
        ),
        (
            SOURCE_LAG_SECONDS,
            "Event time of the newest durable write to when it was written, seconds",
            Some(Unit::Seconds),
        ),
        (
            TOPIC_END_OFFSET,
            "Offset of the next event appended to an embedded topic",
            None,
        ),
        (
            TOPIC_BUFFERED,
            "Events an embedded topic holds in memory",
            None,
        ),
        (
            TOPIC_COMMITTED_OFFSET,
            "A consumer group's committed offset in an embedded topic",
            None,
        ),
        (
            TOPIC_LAG,
            "Events of an embedded topic not yet acknowledged by a consumer group",
            None,
        ),
        (
            UPTIME_SECONDS,
            "Seconds since the runtime started",
            Some(Unit::Seconds),
        ),
    ];
    for (name, help, unit) in gauges {
        recorder.describe_gauge(name.into(), unit, SharedString::const_str(help));
    }
    recorder.describe_histogram(
        SINK_LATENCY_SECONDS.into(),
        Some(Unit::Seconds),
        SharedString::const_str("Duration of one sink write call"),
    );
}
