//! Native cost of the gateway's pipeline per request (`make bench-gateway`): what the worker
//! spends in Rust around each proxied request, apart from the runtime's own I/O.
// Measurement code: a failed unwrap, expect or index stops the run, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use criterion::{criterion_group, criterion_main, Criterion};
use edge_session::gateway::{Entropy, Gateway, GatewayConfig, Request, Step};
use std::hint::black_box;

const NOW: u64 = 1_800_000_000;

fn gateway() -> Gateway {
    let config = GatewayConfig::from_vars(|name| match name {
        "ORIGINS" => Some(
            r#"[{"id":"a","url":"http://127.0.0.1:9001"},{"id":"b","url":"http://127.0.0.1:9002"},{"id":"c","url":"http://127.0.0.1:9003"}]"#
                .into(),
        ),
        "SESSION_KEYS" => Some(r#"[{"id":"k1","secret":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"}]"#.into()),
        _ => None,
    })
    .unwrap();
    Gateway::new(config).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn round_trip(gw: &mut Gateway, client: &[(String, String)], origin: &[(String, String)]) -> usize {
    let req = Request {
        method: "GET",
        url: "https://app.example/page?x=1",
        headers: client,
        has_body: false,
    };
    let entropy = Entropy {
        visitor: 7,
        sid: [7; 16],
        nonce: [7; 16],
        dbsc: [7; 16],
    };
    match gw.start(&req, NOW, &entropy) {
        Step::Proxy(a) => gw
            .finish(&a, origin, NOW, &entropy)
            .map_or(0, |h| h.headers.len()),
        _ => 0,
    }
}

fn pipeline(c: &mut Criterion) {
    let mut gw = gateway();
    let browser = headers(&[
        ("accept", "text/html,application/xhtml+xml"),
        ("accept-encoding", "gzip, br"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0",
        ),
    ]);
    let origin = headers(&[("content-type", "text/html"), ("cache-control", "no-store")]);
    c.bench_function("gateway/new visitor", |b| {
        b.iter(|| round_trip(&mut gw, black_box(&browser), &origin))
    });

    // Log a visitor in, then measure its requests (session verified, affinity honoured).
    let login = headers(&[("x-session-issue", r#"{"sub":"user-12345","role":"admin"}"#)]);
    let req = Request {
        method: "GET",
        url: "https://app.example/login",
        headers: &browser,
        has_body: false,
    };
    let Step::Proxy(a) = gw.start(&req, NOW, &Entropy::default()) else {
        panic!("no attempt")
    };
    let cookies: Vec<String> = gw
        .finish(&a, &login, NOW, &Entropy::default())
        .unwrap()
        .headers
        .into_iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .collect();
    let mut returning = browser.clone();
    returning.push((
        "cookie".into(),
        format!("_ga=GA1.2.3; {}", cookies.join("; ")),
    ));
    c.bench_function("gateway/logged-in visitor", |b| {
        b.iter(|| round_trip(&mut gw, black_box(&returning), &origin))
    });
    c.bench_function("gateway/login", |b| {
        b.iter(|| round_trip(&mut gw, black_box(&returning), &login))
    });
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
