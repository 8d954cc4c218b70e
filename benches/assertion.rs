//! Native cost of `ORIGIN_ASSERTION`'s Rust part per request (`make bench-assertion`): the
//! claims read from the identity headers and the reuse cache's lookup (a reused assertion), and
//! for a new one the JWS signing input, the token and the cache's update (the WebCrypto signature
//! itself is timed in workerd by bench/assertion.mjs).
// Measurement code: a failed unwrap, expect or index stops the run, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use criterion::{criterion_group, criterion_main, Criterion};
use edge_session::gateway::{assertion, Attempt, Entropy, Gateway, GatewayConfig, Request, Step};
use edge_session::token::assertion::{AssertionCache, CACHE_ENTRIES, MAX_LIFETIME_SECONDS};
use std::hint::black_box;

const NOW: u64 = 1_800_000_000;

fn attempt() -> (Gateway, Attempt) {
    let config = GatewayConfig::from_vars(|name| match name {
        "ORIGINS" => Some(r#"[{"id":"a","url":"http://127.0.0.1:9001"}]"#.into()),
        "SESSION_KEYS" => {
            Some(r#"[{"id":"k1","secret":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"}]"#.into())
        }
        "ORIGIN_ASSERTION" => Some("EdDSA".into()),
        _ => None,
    })
    .unwrap();
    let mut gw = Gateway::new(config).unwrap();
    let headers: Vec<(String, String)> = Vec::new();
    let req = Request {
        method: "GET",
        url: "https://app.example/page?x=1",
        headers: &headers,
        has_body: false,
    };
    let Step::Proxy(mut a) = gw.start(&req, NOW, &Entropy::default()) else {
        panic!("not proxied")
    };
    // A logged-in visitor, as the gateway forwards one.
    a.headers.retain(|(n, _)| n != "x-session-status");
    a.headers.extend([
        ("x-session-status".into(), "valid".into()),
        ("x-session-sub".into(), "user-12345".into()),
        ("x-session-id".into(), "c2Vzc2lvbi1pZC0xMjM0NQ".into()),
        (
            "x-session-claims".into(),
            r#"{"exp":1800003600,"iat":1800000000,"role":"admin","sid":"c2Vzc2lvbi1pZC0xMjM0NQ","sub":"user-12345"}"#.into(),
        ),
    ]);
    (gw, a)
}

fn bench(c: &mut Criterion) {
    let (gw, a) = attempt();
    let key = gw.config().assertion.as_ref().unwrap().keys[0].clone();
    let mut cache = AssertionCache::new(CACHE_ENTRIES);
    // A full cache: the other entries are other sessions.
    for i in 0..CACHE_ENTRIES - 1 {
        let mut other = a.clone();
        other
            .headers
            .push(("x-session-revocation".into(), format!("{i}")));
        let claims = assertion::claims(gw.config(), &other).unwrap();
        let s = claims.signing_input(&key, NOW, MAX_LIFETIME_SECONDS);
        cache.put("k1", &claims, &s, s.finish(&[0; 64]), NOW);
    }
    let claims = assertion::claims(gw.config(), &a).unwrap();
    let s = claims.signing_input(&key, NOW, MAX_LIFETIME_SECONDS);
    cache.put("k1", &claims, &s, s.finish(&[0; 64]), NOW);

    c.bench_function("assertion reused (claims + lookup in a full cache)", |b| {
        b.iter(|| {
            let claims = assertion::claims(gw.config(), black_box(&a)).unwrap();
            black_box(cache.get("k1", &claims, NOW + 10).map(str::len))
        })
    });
    c.bench_function(
        "assertion new, without the signature (claims, JWS input, token, cache)",
        |b| {
            let mut cache = AssertionCache::new(CACHE_ENTRIES);
            b.iter(|| {
                let claims = assertion::claims(gw.config(), black_box(&a)).unwrap();
                let s = claims.signing_input(&key, NOW, MAX_LIFETIME_SECONDS);
                let token = s.finish(black_box(&[0; 64]));
                cache.put("k1", &claims, &s, token, NOW);
                black_box(cache.len())
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
