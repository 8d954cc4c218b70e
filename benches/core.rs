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

/// Device-bound sessions: what the core adds to a registration, a refresh and a bound request
/// (the signature is WebCrypto's, measured apart).
fn dbsc(c: &mut Criterion) {
    use edge_session::dbsc::{DeviceBinding, DeviceKey, Proof};
    use edge_session::KeyRing;
    let v: Value = serde_json::from_str(include_str!("../tests/vectors/dbsc.json")).unwrap();
    let keys: Vec<KeyConfig> = serde_json::from_value(v["keys"].clone()).unwrap();
    let binding = DeviceBinding::new(&KeyRing::from_config(&keys).unwrap(), 600).unwrap();
    let sid = v["sessionId"].as_str().unwrap();
    let registration = v["proofs"][0]["jwt"].as_str().unwrap();
    let refresh = v["proofs"][1]["jwt"].as_str().unwrap();
    let key = DeviceKey::from_jwk_json(&v["proofs"][1]["jwk"].to_string()).unwrap();
    let jkt = key.thumbprint();
    c.bench_function("dbsc/register (parse + checks, ES256)", |b| {
        b.iter(|| {
            let proof = Proof::parse(black_box(registration)).unwrap();
            binding.register(&proof, sid, NOW).unwrap()
        })
    });
    c.bench_function("dbsc/refresh (parse + checks, ES256)", |b| {
        b.iter(|| {
            let proof = Proof::parse(black_box(refresh)).unwrap();
            binding.refresh(&proof, sid, &key, &jkt, NOW + 600).unwrap()
        })
    });
    let cookie = binding.bound_cookie(sid, &jkt, NOW, [1; 8]);
    c.bench_function("dbsc/check_bound", |b| {
        b.iter(|| {
            binding
                .check_bound(black_box(&cookie), sid, &jkt, NOW)
                .unwrap()
        })
    });
    c.bench_function("dbsc/challenge", |b| {
        b.iter(|| binding.challenge(black_box(sid), NOW, [2; 8]))
    });
}

criterion_group!(benches, tokens, dbsc);
criterion_main!(benches);
