//! Micro-benchmarks: event construction, each built-in transform, the filter
//! expression evaluator, JSON
//! encoding of a batch, one actor hop per batch, the batcher.
//!
//! ```text
//! cargo bench -p rivven-connect-benches --bench micro
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use futures::FutureExt;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use rivven_connect::prelude::*;
use rivven_connect::registry::Registry;
use rivven_connect::smt::Expr;
use rivven_connect::util::exports::{Batcher, BatcherConfig};
use serde_json::{json, Value};
use std::hint::black_box;

fn order(i: u64) -> SourceEvent {
    SourceEvent::record(
        "orders",
        json!({
            "order_id": i, "customer_id": i % 10_000, "customer_email": format!("c{i}@example.com"),
            "product": "laptop", "quantity": 2, "total": 1999.5, "status": if i.is_multiple_of(5) { "cancelled" } else { "paid" },
            "created_at": "2026-01-02T03:04:05Z", "address": {"city": "Oslo", "zip": "0150"},
        }),
    )
}

fn batch(n: u64) -> Vec<SourceEvent> {
    (0..n).map(order).collect()
}

fn events(c: &mut Criterion) {
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("record", |b| b.iter(|| black_box(order(black_box(7)))));
    g.bench_function("cdc_update", |b| {
        b.iter(|| {
            black_box(SourceEvent::cdc_update(
                "t",
                json!({"id": 1, "v": 1}),
                json!({"id": 1, "v": 2}),
            ))
        })
    });
    g.finish();
}

/// Each built-in transform with a representative config.
fn transforms(c: &mut Criterion) {
    let registry = Registry::builtin();
    let cases: Vec<(&str, Value, SourceEvent)> = vec![
        (
            "filter",
            json!({"condition": "status != 'cancelled' and total > 100"}),
            order(1),
        ),
        (
            "filter_in",
            json!({"condition": "product in ['laptop', 'phone'] and not (quantity < 2)"}),
            order(1),
        ),
        (
            "mask_field",
            json!({"fields": ["customer_email"]}),
            order(1),
        ),
        (
            "insert_field",
            json!({"static": {"source": "bench"}}),
            order(1),
        ),
        (
            "rename_field",
            json!({"rename": {"total": "amount"}}),
            order(1),
        ),
        ("cast", json!({"fields": {"quantity": "string"}}), order(1)),
        ("flatten", json!({}), order(1)),
        ("value_to_key", json!({"fields": ["order_id"]}), order(1)),
        (
            "regex_router",
            json!({"regex": "^(.*)$", "replacement": "cdc.$1"}),
            order(1),
        ),
        (
            "content_router",
            json!({"field": "status", "routes": {"paid": "paid-orders"}}),
            order(1),
        ),
        (
            "timestamp_converter",
            json!({"fields": ["created_at"], "format": "unix_millis"}),
            order(1),
        ),
        (
            "extract_new_record_state",
            json!({"add_op": true}),
            SourceEvent::cdc_update("t", json!({"id": 1, "v": 1}), json!({"id": 1, "v": 2})),
        ),
    ];
    let mut g = c.benchmark_group("transform");
    g.throughput(Throughput::Elements(1));
    // What every case below pays besides the transform itself (moving the event
    // in and out of the routine; criterion drops the outputs untimed).
    g.bench_function("baseline_identity", |b| {
        b.iter_batched(|| order(1), |e| e, BatchSize::SmallInput)
    });
    for (name, config, event) in cases {
        let kind = name.trim_end_matches("_in");
        let t = registry
            .transform(kind)
            .unwrap_or_else(|| panic!("transform `{kind}` is not registered"))
            .build(config)
            .unwrap();
        g.bench_function(name, |b| {
            b.iter_batched(
                || event.clone(),
                // Built-in SMTs finish on their first poll: no executor round trip.
                |e| t.transform(e).now_or_never().unwrap().unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// The filter expression language on its own: parse once, evaluate per event.
fn expression(c: &mut Criterion) {
    let event = order(1);
    let mut g = c.benchmark_group("expr");
    g.throughput(Throughput::Elements(1));
    for (name, text) in [
        ("compare", "status != 'cancelled'"),
        (
            "and_or_in",
            "(total > 100 and status != 'cancelled') or product in ['laptop', 'phone']",
        ),
        (
            "nested_regex",
            "address.city starts_with 'Os' and customer_email matches '^c[0-9]+@'",
        ),
    ] {
        let expr = Expr::parse(text).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| black_box(expr.matches(black_box(&event))))
        });
    }
    g.bench_function("parse", |b| {
        b.iter(|| {
            Expr::parse(black_box(
                "(total > 100 and status != 'cancelled') or product in ['laptop', 'phone']",
            ))
            .unwrap()
        })
    });
    g.finish();
}

fn encoding(c: &mut Criterion) {
    let events = batch(1024);
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Elements(1024));
    g.bench_function("encode_batch_1024", |b| {
        let mut buf = Vec::with_capacity(1 << 20);
        b.iter(|| {
            buf.clear();
            for e in &events {
                serde_json::to_writer(&mut buf, &e.data).unwrap();
                buf.push(b'\n');
            }
            black_box(buf.len())
        })
    });
    g.finish();
}

/// An actor that receives batches and answers with their size.
struct Counter;

enum Msg {
    Batch(std::sync::Arc<Vec<SourceEvent>>),
    Done(RpcReplyPort<u64>),
}

impl Actor for Counter {
    type Msg = Msg;
    type State = u64;
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<Msg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }
    async fn handle(
        &self,
        _: ActorRef<Msg>,
        msg: Msg,
        seen: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Msg::Batch(b) => *seen += b.len() as u64,
            Msg::Done(reply) => {
                let _ = reply.send(*seen);
            }
        }
        Ok(())
    }
}

fn actor_hop(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (actor, _) = rt.block_on(Actor::spawn(None, Counter, ())).unwrap();
    // A batch moves as a pointer; what is measured is the hop (100 sends,
    // then one round trip to wait for them).
    let template = std::sync::Arc::new(batch(1024));
    let mut g = c.benchmark_group("actor");
    g.throughput(Throughput::Elements(100));
    g.bench_function("hops_100_batches", |b| {
        b.iter(|| {
            for _ in 0..100 {
                actor.send_message(Msg::Batch(template.clone())).unwrap();
            }
            rt.block_on(async { ractor::call!(actor, Msg::Done) })
                .unwrap()
        })
    });
    g.finish();
    actor.stop(None);
}

fn batcher(c: &mut Criterion) {
    let events = batch(10_000);
    let mut g = c.benchmark_group("batcher");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("add_10k_flush_1024", |b| {
        b.iter_batched(
            || events.clone(),
            |events| {
                let mut batcher = Batcher::new(BatcherConfig {
                    max_size: 1024,
                    ..Default::default()
                });
                let mut batches = 0;
                for e in events {
                    batcher.add(e);
                    if batcher.is_ready() {
                        black_box(batcher.flush());
                        batches += 1;
                    }
                }
                batches
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, events, transforms, expression, encoding, actor_hop, batcher);
criterion_main!(benches);
