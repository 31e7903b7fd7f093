//! Every pagination style reads every record once, in order, per poll.

use rivven_connect::SourceConfig;
use rivven_connect_http::rest::{RestSource, RestSourceConfig};
use rivven_connect_testing::run_source_with;
use serde_json::{json, Value};

use crate::support::*;

fn config(url: String, extra: Value) -> RestSourceConfig {
    let mut c =
        json!({"url": url, "interval_ms": 100000, "cursor_field": "id", "cursor_param": "since"});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    RestSourceConfig::from_value(c).unwrap()
}

async fn read_all(api: &Api, mode: &str, extra: Value) -> Vec<u64> {
    let c = config(api.url(mode), extra);
    let (events, state) = run_source_with(&RestSource::new(), &c, None, Some(95))
        .await
        .unwrap();
    let cursor = state.get_stream("http").unwrap().cursor.clone().unwrap();
    assert_eq!(cursor, json!(94), "the state holds the newest id");
    ids(&events)
}

#[tokio::test]
async fn a_cursor_in_the_body_is_followed_to_the_last_page() {
    let api = Api::start(Options::default()).await;
    let extra = json!({
        "records_pointer": "/data",
        "pagination": {"type": "cursor", "cursor_pointer": "/meta/next", "cursor_param": "cursor"},
    });
    assert_eq!(
        read_all(&api, "cursor", extra).await,
        (0..95).collect::<Vec<_>>()
    );
    let cursors: Vec<Option<String>> = api
        .hits()
        .iter()
        .skip(1)
        .map(|h| h.query.get("cursor").cloned())
        .collect();
    assert_eq!(
        cursors,
        vec![
            None,
            Some("c-20".into()),
            Some("c-40".into()),
            Some("c-60".into()),
            Some("c-80".into())
        ],
        "check's request, then five pages"
    );
}

#[tokio::test]
async fn offset_and_limit_advance_by_the_records_read() {
    let api = Api::start(Options::default()).await;
    let extra = json!({
        "records_pointer": "/data",
        "pagination": {"type": "offset", "limit": 30},
    });
    assert_eq!(
        read_all(&api, "offset", extra).await,
        (0..95).collect::<Vec<_>>()
    );
    let offsets: Vec<String> = api
        .hits()
        .iter()
        .skip(1)
        .map(|h| h.query["offset"].clone())
        .collect();
    assert_eq!(offsets, vec!["0", "30", "60", "90"]);
}

#[tokio::test]
async fn the_link_header_s_next_page_is_followed() {
    let api = Api::start(Options::default()).await;
    let extra = json!({"pagination": {"type": "link"}});
    assert_eq!(
        read_all(&api, "link", extra).await,
        (0..95).collect::<Vec<_>>()
    );
    assert_eq!(api.hits().len(), 1 + 5);
}

#[tokio::test]
async fn without_pagination_one_page_is_one_poll_and_the_next_poll_reads_only_new_records() {
    let api = Api::start(Options {
        records: 10,
        ..Options::default()
    })
    .await;
    let c = config(
        api.url("plain"),
        json!({"records_pointer": "/data", "interval_ms": 50}),
    );
    let source = RestSource::new();
    let reading = run_source_with(&source, &c, None, Some(15));
    let grow = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        api.grow(5);
    };
    let ((events, _), ()) = tokio::join!(async { reading.await.unwrap() }, grow);
    assert_eq!(
        ids(&events),
        (0..15).collect::<Vec<_>>(),
        "polls repeat; nothing twice"
    );
    let sinces: Vec<Option<String>> = api
        .hits()
        .iter()
        .map(|h| h.query.get("since").cloned())
        .collect();
    assert!(
        sinces.contains(&Some("9".into())),
        "later polls ask since the newest id: {sinces:?}"
    );
}
