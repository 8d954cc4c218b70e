//! Native cost of the gateway's pipeline per request (`make bench-gateway`): what the worker
//! spends in Rust around each proxied request, apart from the runtime's own I/O.
// Measurement code: a failed unwrap, expect or index stops the run, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use edge_session::gateway::dbsc::Decision;
use edge_session::gateway::{Entropy, Gateway, GatewayConfig, Request, Step};
use std::hint::black_box;

const NOW: u64 = 1_800_000_000;

fn gateway() -> Gateway {
    gateway_with(&[])
}

fn gateway_with(extra: &[(&str, &str)]) -> Gateway {
    let config = GatewayConfig::from_vars(|name| match name {
        _ if extra.iter().any(|(n, _)| *n == name) => extra
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string()),
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

/// The cookies a response sets, as a `Cookie` header's pairs, added to `jar`.
fn keep(jar: &mut Vec<String>, headers: &[(String, String)]) {
    for (_, v) in headers.iter().filter(|(n, _)| n == "set-cookie") {
        let pair = v.split(';').next().unwrap().to_owned();
        let name = pair.split('=').next().unwrap().to_owned();
        jar.retain(|c| !c.starts_with(&format!("{name}=")));
        jar.push(pair);
    }
}

/// DBSC (`DBSC = "on"`): a visitor whose session is bound to a device key and who presents
/// its bound cookie (one more HMAC per request), and the refresh endpoint's decision (the proof
/// read, its challenge and the key cookie checked, the next bound cookie and challenge made;
/// the signature is WebCrypto's, not measured here).
fn dbsc(c: &mut Criterion) {
    let mut gw = gateway_with(&[("DBSC", "on")]);
    let get = |path: &str, headers: &[(String, String)], method: &'static str| {
        let url = format!("https://app.example{path}");
        (url, headers.to_vec(), method)
    };
    let start = |gw: &mut Gateway,
                 (url, headers, method): (String, Vec<(String, String)>, &str)| {
        let req = Request {
            method,
            url: &url,
            headers: &headers,
            has_body: false,
        };
        gw.start(&req, NOW, &Entropy::default())
    };
    let Step::Proxy(a) = start(&mut gw, get("/login", &[], "GET")) else {
        panic!("no attempt")
    };
    let login = headers(&[("x-session-issue", r#"{"sub":"user-12345","role":"admin"}"#)]);
    let out = gw.finish(&a, &login, NOW, &Entropy::default()).unwrap();
    let offer = out
        .headers
        .iter()
        .find(|(n, _)| n == "secure-session-registration")
        .map(|(_, v)| v.clone())
        .unwrap();
    let challenge = offer
        .split("challenge=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    let mut jar = Vec::new();
    keep(&mut jar, &out.headers);
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let jwk = format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
        b64(&[1; 32]),
        b64(&[2; 32])
    );
    let proof = |header: &str, jti: &str| {
        format!(
            "{}.{}.{}",
            b64(header.as_bytes()),
            b64(format!(r#"{{"jti":"{jti}"}}"#).as_bytes()),
            b64(&[7; 64])
        )
    };
    let register = headers(&[
        ("cookie", &jar.join("; ")),
        (
            "secure-session-response",
            &proof(
                &format!(r#"{{"alg":"ES256","typ":"dbsc+jwt","jwk":{jwk}}}"#),
                challenge,
            ),
        ),
    ]);
    let Step::Dbsc(Decision::Verify(pending)) =
        start(&mut gw, get("/__edge/dbsc/register", &register, "POST"))
    else {
        panic!("registration refused")
    };
    keep(&mut jar, &pending.finish(Ok(true), None).headers);
    // The logged-in visitor's request above, with the bound cookie too (the key cookie goes
    // only to /__edge/dbsc/).
    let to_pages: Vec<String> = jar
        .iter()
        .filter(|c| !c.starts_with("__Secure-session-key="))
        .cloned()
        .collect();
    let mut bound = headers(&[
        ("accept", "text/html,application/xhtml+xml"),
        ("accept-encoding", "gzip, br"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0",
        ),
    ]);
    bound.push((
        "cookie".into(),
        format!("_ga=GA1.2.3; {}", to_pages.join("; ")),
    ));
    let origin = headers(&[("content-type", "text/html"), ("cache-control", "no-store")]);
    c.bench_function("gateway/dbsc: bound visitor", |b| {
        b.iter(|| round_trip(&mut gw, black_box(&bound), &origin))
    });

    // The session id of the login (`Entropy::default()`: sixteen zero bytes).
    let sid = URL_SAFE_NO_PAD.encode([0u8; 16]);
    let ask = headers(&[
        ("cookie", &jar.join("; ")),
        ("sec-secure-session-id", &format!("\"{sid}\"")),
    ]);
    let Step::Dbsc(Decision::Answer(page)) =
        start(&mut gw, get("/__edge/dbsc/refresh", &ask, "POST"))
    else {
        panic!("no challenge")
    };
    let next = page
        .headers
        .iter()
        .find(|(n, _)| n == "secure-session-challenge")
        .map(|(_, v)| v.split('"').nth(1).unwrap().to_owned())
        .unwrap();
    let mut refresh = ask.clone();
    refresh.push((
        "secure-session-response".into(),
        proof(r#"{"alg":"ES256","typ":"dbsc+jwt"}"#, &next),
    ));
    let refresh = get("/__edge/dbsc/refresh", &refresh, "POST");
    c.bench_function("gateway/dbsc: refresh decision", |b| {
        b.iter(|| match start(&mut gw, black_box(refresh.clone())) {
            Step::Dbsc(Decision::Verify(p)) => p.finish(Ok(true), None).headers.len(),
            other => panic!("{other:?}"),
        })
    });
}

criterion_group!(benches, pipeline, dbsc);
criterion_main!(benches);
