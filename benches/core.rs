//! Native speed of the core, the yardstick for the JavaScript face (`make bench`).
// Measurement code: a failed unwrap, expect or index stops the run, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use criterion::{criterion_group, criterion_main, Criterion};
use edge_session::{KeyConfig, SessionTokens, TokenConfig};
use serde_json::{json, Value};
use std::hint::black_box;

const NOW: u64 = 1_800_000_000;

fn tokens(c: &mut Criterion) {
    let tokens = SessionTokens::new(TokenConfig::new(vec![KeyConfig {
        id: "k1".into(),
        secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA".into(),
    }]))
    .unwrap();
    let claims = json!({ "sub": "user-12345", "role": "admin" });
    let token = tokens.sign(&claims, NOW).unwrap();
    c.bench_function("token/verify", |b| {
        b.iter(|| tokens.verify::<Value>(black_box(&token), NOW).unwrap())
    });
    c.bench_function("token/sign", |b| {
        b.iter(|| tokens.sign(black_box(&claims), NOW).unwrap())
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
