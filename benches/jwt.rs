//! Native speed of JWT verify and sealed tokens, the yardstick for the JS figures of `bench/tokens.mjs`.
// Measurement code: a failed unwrap, expect or index stops the run, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use criterion::{criterion_group, criterion_main, Criterion};
use edge_session::{
    JwtSignOptions, KeyConfig, SealedTokens, SessionTokens, TokenConfig, VerifyOptions,
};
use serde_json::{json, Value};
use std::hint::black_box;

const NOW: u64 = 1_800_000_000;

fn config() -> TokenConfig {
    TokenConfig::new(vec![KeyConfig {
        id: "k1".into(),
        secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA".into(),
    }])
}

fn jwt(c: &mut Criterion) {
    let tokens = SessionTokens::new(config()).unwrap();
    let claims = json!({ "sub": "user-12345", "role": "admin" });
    let jwt = tokens.sign_jwt(&claims, &JwtSignOptions::at(NOW)).unwrap();
    let options = VerifyOptions::at(NOW);
    c.bench_function("jwt/verify", |b| {
        b.iter(|| {
            tokens
                .verify_jwt::<Value>(black_box(&jwt), &options)
                .unwrap()
        })
    });
    c.bench_function("jwt/sign", |b| {
        b.iter(|| {
            tokens
                .sign_jwt(black_box(&claims), &JwtSignOptions::at(NOW))
                .unwrap()
        })
    });
}

fn sealed(c: &mut Criterion) {
    let tokens = SealedTokens::new(config()).unwrap();
    let claims = json!({ "sub": "user-12345", "role": "admin" });
    let token = tokens.sign(&claims, NOW).unwrap();
    c.bench_function("sealed/verify", |b| {
        b.iter(|| tokens.verify::<Value>(black_box(&token), NOW).unwrap())
    });
    c.bench_function("sealed/sign", |b| {
        b.iter(|| tokens.sign(black_box(&claims), NOW).unwrap())
    });
}

criterion_group!(benches, jwt, sealed);
criterion_main!(benches);
