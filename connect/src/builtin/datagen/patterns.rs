//! Row generators for the datagen patterns, driven by a small seeded PRNG so that a
//! given `(seed, key, version)` always yields the same row (timestamps aside).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// SplitMix64: tiny, fast and good enough for synthetic data (not for cryptography).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator for one `(seed, stream-of-draws, index)` triple.
    pub(crate) fn for_item(seed: u64, lane: u64, index: u64) -> Self {
        let mut rng = Rng(seed ^ lane.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.0 ^= rng.next_u64() ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        rng
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `0.0..1.0`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = self.below(items.len() as u64);
        usize::try_from(i)
            .ok()
            .and_then(|i| items.get(i))
            .copied()
            .unwrap_or("")
    }

    fn money(&mut self, max_cents: u64) -> f64 {
        (self.below(max_cents) + 1) as f64 / 100.0
    }

    fn word(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'a' + (self.below(26) as u8)))
            .collect()
    }
}

/// What the generated rows look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataPattern {
    /// `{"value": n}`: sequential integers 0, 1, 2, …
    Sequence,
    /// Random JSON objects: `id`, `value`, `flag`, `text`, `number`.
    Random,
    /// User profiles: `user_id`, `name`, `email`, `country`, `created_at`.
    Users,
    /// E-commerce orders: `order_id`, `customer_id`, `customer_email`, `product`, `quantity`, `total`, `status`.
    Orders,
    /// Generic event stream: `event_id`, `event_type` (page_view, click, …), `user_id`, `session_id`.
    Events,
    /// Time-series metrics: `metric`, `host`, `value`, `timestamp`.
    Metrics,
    /// Simple pairs: `key`, `value`.
    KeyValue,
    /// Web analytics: `page_url`, `user_id`, `timestamp`, `referrer`.
    Pageviews,
}

const FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yasmin",
];
const LAST: &[&str] = &[
    "Smith", "Johnson", "Garcia", "Miller", "Davis", "Martinez", "Lopez", "Wilson", "Anderson",
    "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White",
];
const COUNTRIES: &[&str] = &["US", "DE", "FR", "GB", "NO", "JP", "BR", "IN", "CA", "AU"];
const PRODUCTS: &[&str] = &[
    "laptop",
    "phone",
    "tablet",
    "headphones",
    "monitor",
    "keyboard",
    "mouse",
    "camera",
    "watch",
    "speaker",
];
const STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "cancelled"];
const EVENT_TYPES: &[&str] = &[
    "page_view",
    "click",
    "add_to_cart",
    "purchase",
    "signup",
    "logout",
];
const METRICS: &[&str] = &[
    "cpu_usage",
    "memory_usage",
    "disk_io",
    "network_rx",
    "request_latency_ms",
];
const PAGES: &[&str] = &[
    "/",
    "/products",
    "/cart",
    "/checkout",
    "/about",
    "/blog",
    "/search",
];
const REFERRERS: &[&str] = &[
    "https://google.com",
    "https://twitter.com",
    "direct",
    "https://news.ycombinator.com",
];

impl DataPattern {
    /// The field that identifies a row (and becomes the event key).
    pub fn id_field(self) -> &'static str {
        match self {
            DataPattern::Sequence => "value",
            DataPattern::Random => "id",
            DataPattern::Users => "user_id",
            DataPattern::Orders => "order_id",
            DataPattern::Events => "event_id",
            DataPattern::Metrics => "sample_id",
            DataPattern::KeyValue => "key",
            DataPattern::Pageviews => "view_id",
        }
    }

    /// The row for `id` at `version` (0 for inserts, growing with each CDC
    /// update) that the `datagen` source emits with `seed`: the same
    /// `(seed, id, version)` always gives the same row (timestamps aside).
    pub fn row(self, seed: u64, id: u64, version: u64) -> Value {
        self.row_at(seed, id, version, Utc::now())
    }

    /// [`row`](Self::row) with its timestamps taken from `now` (no clock read).
    pub fn row_at(self, seed: u64, id: u64, version: u64, now: DateTime<Utc>) -> Value {
        let mut r = Rng::for_item(seed, version.wrapping_add(1), id);
        match self {
            DataPattern::Sequence => json!({ "value": id }),
            DataPattern::Random => json!({
                "id": id,
                "value": r.unit(),
                "flag": r.below(2) == 1,
                "text": r.word(8),
                "number": r.below(1_000_000),
            }),
            DataPattern::Users => {
                let first = r.pick(FIRST);
                let last = r.pick(LAST);
                json!({
                    "user_id": id,
                    "name": format!("{first} {last}"),
                    "email": format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), id),
                    "country": r.pick(COUNTRIES),
                    "created_at": now.to_rfc3339(),
                })
            }
            DataPattern::Orders => {
                let quantity = r.below(5) + 1;
                let price = r.money(100_000);
                let customer = r.below(10_000) + 1;
                json!({
                    "order_id": id,
                    "customer_id": customer,
                    "customer_email": format!("customer{customer}@example.com"),
                    "product": r.pick(PRODUCTS),
                    "quantity": quantity,
                    "total": ((price * quantity as f64) * 100.0).round() / 100.0,
                    "status": r.pick(STATUSES),
                })
            }
            DataPattern::Events => json!({
                "event_id": id,
                "event_type": r.pick(EVENT_TYPES),
                "user_id": r.below(10_000) + 1,
                "session_id": format!("s-{:016x}", r.next_u64()),
                "timestamp": now.timestamp_millis(),
            }),
            DataPattern::Metrics => json!({
                "sample_id": id,
                "metric": r.pick(METRICS),
                "host": format!("host-{:02}", r.below(16)),
                "value": (r.unit() * 10_000.0).round() / 100.0,
                "timestamp": now.timestamp_millis(),
            }),
            DataPattern::KeyValue => json!({
                "key": format!("key-{id}"),
                "value": r.word(12),
            }),
            DataPattern::Pageviews => json!({
                "view_id": id,
                "page_url": format!("https://shop.example.com{}", r.pick(PAGES)),
                "user_id": r.below(10_000) + 1,
                "timestamp": now.timestamp_millis(),
                "referrer": r.pick(REFERRERS),
            }),
        }
    }

    /// The event key for row `id`.
    pub(crate) fn key(self, id: u64) -> Value {
        match self {
            DataPattern::KeyValue => json!({ "key": format!("key-{id}") }),
            other => json!({ other.id_field(): id }),
        }
    }

    /// A JSON Schema of the rows, for `discover`.
    pub(crate) fn json_schema(self) -> Value {
        let sample = self.row(0, 0, 0);
        let properties: serde_json::Map<String, Value> = sample
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let ty = match v {
                            Value::Bool(_) => "boolean",
                            Value::Number(n) if n.is_f64() => "number",
                            Value::Number(_) => "integer",
                            _ => "string",
                        };
                        (k.clone(), json!({ "type": ty }))
                    })
                    .collect()
            })
            .unwrap_or_default();
        json!({ "type": "object", "properties": properties })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [DataPattern; 8] = [
        DataPattern::Sequence,
        DataPattern::Random,
        DataPattern::Users,
        DataPattern::Orders,
        DataPattern::Events,
        DataPattern::Metrics,
        DataPattern::KeyValue,
        DataPattern::Pageviews,
    ];

    fn without_time(mut v: Value) -> Value {
        for k in ["created_at", "timestamp"] {
            if let Some(m) = v.as_object_mut() {
                m.remove(k);
            }
        }
        v
    }

    #[test]
    fn rows_are_reproducible_and_vary_by_version() {
        for p in ALL {
            let a = without_time(p.row(42, 7, 0));
            assert_eq!(a, without_time(p.row(42, 7, 0)), "{p:?}");
            assert!(a.get(p.id_field()).is_some(), "{p:?} lacks its id field");
        }
        let o1 = DataPattern::Orders.row(42, 7, 0);
        let changed = (1..10).any(|v| DataPattern::Orders.row(42, 7, v)["status"] != o1["status"]);
        assert!(changed);
    }

    #[test]
    fn orders_fields_match_the_seed_table() {
        let row = DataPattern::Orders.row(1, 1, 0);
        for f in [
            "order_id",
            "customer_id",
            "product",
            "quantity",
            "total",
            "status",
        ] {
            assert!(row.get(f).is_some(), "missing {f}");
        }
        let schema = DataPattern::Orders.json_schema();
        assert_eq!(schema["properties"]["total"]["type"], "number");
        assert_eq!(schema["properties"]["quantity"]["type"], "integer");
    }

    #[test]
    fn unit_is_in_range() {
        let mut r = Rng::for_item(1, 2, 3);
        for _ in 0..1000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
