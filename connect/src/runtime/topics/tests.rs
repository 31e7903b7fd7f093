#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::disk::{json_depth, DiskLog};
use super::*;
use serde_json::json;
use std::io::Write;

fn events(from: u64, n: u64) -> Vec<SourceEvent> {
    (from..from + n)
        .map(|i| SourceEvent::record("t", json!({"id": i, "pad": "x".repeat(40)})))
        .collect()
}

fn payloads(events: &[SourceEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect()
}

fn disk_options(dir: &std::path::Path, segment_bytes: u64) -> TopicOptions {
    TopicOptions {
        storage: TopicStorage::Disk,
        capacity: 4,
        dir: dir.to_path_buf(),
        segment_bytes,
        ..TopicOptions::default()
    }
}

fn ids(events: &[SourceEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e.data["id"].as_u64().unwrap())
        .collect()
}

/// Reads everything from `offset` to the end through `Topic::read`.
fn read_all(topic: &Topic, mut offset: u64) -> Result<Vec<SourceEvent>> {
    let mut reader = None;
    let mut out = Vec::new();
    loop {
        let chunk = topic.read(offset, 7, &mut reader)?;
        if chunk.is_empty() {
            return Ok(out);
        }
        offset += chunk.len() as u64;
        out.extend(chunk);
    }
}

#[tokio::test]
async fn disk_records_survive_reopening_and_are_read_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    {
        let topic = Topic::open("t", disk_options(dir.path(), 500), ["g".to_string()], 1).unwrap();
        for start in (0..50).step_by(10) {
            let batch = events(start, 10);
            let end = topic.append(batch.clone(), payloads(&batch)).await.unwrap();
            assert_eq!(end, start + 10);
        }
    }
    let segments = std::fs::read_dir(dir.path().join("t")).unwrap().count();
    assert!(segments > 3, "small segments roll: {segments}");
    let topic = Topic::open("t", disk_options(dir.path(), 500), ["g".to_string()], 1).unwrap();
    assert_eq!(topic.status().end_offset, 50);
    // The ring is empty after reopening: everything comes from the files.
    assert_eq!(
        ids(&read_all(&topic, 0).unwrap()),
        (0..50).collect::<Vec<_>>()
    );
    assert_eq!(
        ids(&read_all(&topic, 23).unwrap()),
        (23..50).collect::<Vec<_>>()
    );
    // Appends go on from the end, and recent events come from memory.
    let batch = events(50, 3);
    assert_eq!(
        topic.append(batch.clone(), payloads(&batch)).await.unwrap(),
        53
    );
    assert_eq!(
        ids(&read_all(&topic, 48).unwrap()),
        vec![48, 49, 50, 51, 52]
    );
}

fn last_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.pop().unwrap()
}

#[tokio::test]
async fn a_torn_tail_is_truncated_at_startup_never_read() {
    let dir = tempfile::tempdir().unwrap();
    {
        let topic = Topic::open("t", disk_options(dir.path(), 1 << 20), [], 1).unwrap();
        let batch = events(0, 5);
        topic.append(batch.clone(), payloads(&batch)).await.unwrap();
    }
    let seg = last_segment(&dir.path().join("t"));
    let good = std::fs::metadata(&seg).unwrap().len();
    // A crash in the middle of the next append: half a frame.
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[9, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(f);
    let topic = Topic::open("t", disk_options(dir.path(), 1 << 20), [], 1).unwrap();
    assert_eq!(topic.status().end_offset, 5);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), good, "truncated");
    let batch = events(5, 2);
    topic.append(batch.clone(), payloads(&batch)).await.unwrap();
    drop(topic);
    let topic = Topic::open("t", disk_options(dir.path(), 1 << 20), [], 1).unwrap();
    assert_eq!(
        ids(&read_all(&topic, 0).unwrap()),
        (0..7).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_corrupt_last_record_is_cut_and_a_corrupt_sealed_one_fails_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    {
        let topic = Topic::open("t", disk_options(dir.path(), 400), [], 1).unwrap();
        for start in (0..20).step_by(5) {
            let batch = events(start, 5);
            topic.append(batch.clone(), payloads(&batch)).await.unwrap();
        }
    }
    let tdir = dir.path().join("t");
    // Flip a byte in the last record of the last segment: a checksum mismatch.
    let seg = last_segment(&tdir);
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let topic = Topic::open("t", disk_options(dir.path(), 400), [], 1).unwrap();
    assert_eq!(
        topic.status().end_offset,
        19,
        "the damaged last record is gone"
    );
    drop(topic);
    // Flip a byte in the first (sealed) segment: reading fails there, naming it.
    let mut files: Vec<_> = std::fs::read_dir(&tdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    let mut first = std::fs::read(&files[0]).unwrap();
    first[20] ^= 0xff;
    std::fs::write(&files[0], &first).unwrap();
    let topic = Topic::open("t", disk_options(dir.path(), 400), [], 1).unwrap();
    let err = read_all(&topic, 0).unwrap_err();
    assert!(
        err.message().contains("checksum") && err.message().contains("record 0"),
        "{err}"
    );
}

#[tokio::test]
async fn retention_deletes_only_segments_every_group_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = disk_options(dir.path(), 300);
    options.retention_bytes = 0; // over the limit all the time
    let groups = ["a".to_string(), "b".to_string()];
    let topic = Topic::open("t", options, groups, 1).unwrap();
    let count = || std::fs::read_dir(dir.path().join("t")).unwrap().count();
    for start in (0..30).step_by(3) {
        let batch = events(start, 3);
        topic.append(batch.clone(), payloads(&batch)).await.unwrap();
    }
    let all = count();
    assert!(all > 3);
    // Only one group has a cursor: nothing may go.
    topic.commit("a", 30).unwrap();
    let batch = events(30, 3);
    topic.append(batch.clone(), payloads(&batch)).await.unwrap();
    assert!(count() > all, "kept while `b` has not committed");
    // `b` is at 10: segments wholly below 10 go, the one holding 10 stays.
    topic.commit("b", 10).unwrap();
    let batch = events(33, 3);
    topic.append(batch.clone(), payloads(&batch)).await.unwrap();
    assert!(count() < all, "old segments deleted");
    assert_eq!(
        ids(&read_all(&topic, 10).unwrap()),
        (10..36).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_memory_topic_holds_at_most_its_capacity_and_waits_for_every_group() {
    let options = TopicOptions {
        capacity: 10,
        ..TopicOptions::default()
    };
    let groups = ["a".to_string(), "b".to_string()];
    let topic = Topic::open("t", options, groups, 1).unwrap();
    let first = events(0, 8);
    assert_eq!(topic.append(first.clone(), Vec::new()).await.unwrap(), 8);
    // 8 + 8 > 10: the next append waits until both groups made room.
    let second = events(8, 8);
    let pending = topic.append(second.clone(), Vec::new());
    tokio::pin!(pending);
    assert!(futures::poll!(pending.as_mut()).is_pending());
    topic.commit("a", 8).unwrap();
    assert!(
        futures::poll!(pending.as_mut()).is_pending(),
        "b has not acknowledged"
    );
    let acked = topic.wait_acknowledged(8);
    tokio::pin!(acked);
    assert!(futures::poll!(acked.as_mut()).is_pending());
    topic.commit("b", 5).unwrap();
    assert!(
        futures::poll!(pending.as_mut()).is_pending(),
        "3 + 8 > 10 still"
    );
    topic.commit("b", 8).unwrap();
    assert_eq!(pending.await.unwrap(), 16);
    acked.await.unwrap();
    let status = topic.status();
    assert_eq!(status.peak_buffered, 8);
    assert_eq!(status.buffered, 8);
    assert_eq!(status.groups[0].lag, 8);
    let mut reader = None;
    assert_eq!(
        ids(&topic.read(8, 100, &mut reader).unwrap()),
        (8..16).collect::<Vec<_>>()
    );
    // Below what every group acknowledged is gone from memory: an error, not a gap.
    assert!(topic.read(3, 10, &mut reader).is_err());
}

#[tokio::test]
async fn readers_wait_for_events_and_end_once_every_publisher_finished() {
    let topic = Topic::open("t", TopicOptions::default(), ["g".to_string()], 2).unwrap();
    let waiting = topic.wait_for(0);
    tokio::pin!(waiting);
    assert!(futures::poll!(waiting.as_mut()).is_pending());
    topic.append(events(0, 1), Vec::new()).await.unwrap();
    assert!(waiting.await);
    topic.publisher_finished();
    let still_open = topic.wait_for(1);
    tokio::pin!(still_open);
    assert!(
        futures::poll!(still_open.as_mut()).is_pending(),
        "one publisher is left"
    );
    topic.publisher_finished();
    assert!(!still_open.await, "closed and read to its end");
    assert!(topic.wait_for(0).await, "what is there is still read");
}

#[test]
fn json_depth_counts_brackets_outside_strings() {
    assert_eq!(json_depth(br#"{"a":[1,{"b":"[[[{"}]}"#), 3);
    assert_eq!(json_depth(br#""\"[""#), 0);
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert_eq!(json_depth(deep.as_bytes()), 200);
}

#[test]
fn an_empty_disk_log_starts_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = DiskLog::open("t", dir.path(), 100).unwrap();
    assert_eq!((log.start(), log.end(), log.bytes()), (0, 0, 0));
}

#[tokio::test]
async fn a_disk_topic_has_one_writer_process() {
    let dir = tempfile::tempdir().unwrap();
    let first = Topic::open("t", disk_options(dir.path(), 1 << 20), ["g".into()], 1).unwrap();
    let err = Topic::open("t", disk_options(dir.path(), 1 << 20), ["g".into()], 1).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("topic `t`"), "{message}");
    assert!(
        message.contains("is in use by another rivven-connect"),
        "{message}"
    );
    assert!(
        message.contains(&dir.path().join("t").display().to_string()),
        "{message}"
    );
    // Another topic in the same data_dir is another writer's.
    Topic::open("u", disk_options(dir.path(), 1 << 20), ["g".into()], 1).unwrap();
    // Closed, it is free again.
    drop(first);
    Topic::open("t", disk_options(dir.path(), 1 << 20), ["g".into()], 1).unwrap();
}
