//! The gateway's features together (test only): every session format, with and without a
//! store, DBSC, an origin assertion and URL affinity, a visitor in each state (anonymous,
//! logged in, device-bound, unbound), and an origin answer with any set of directives
//! (`x-session-issue`, `-revoke`, `-clear`, `-data`, the nonce sent back). One request goes
//! through the pipeline and the store as the worker's glue runs it (`worker/proxy.rs`), and the
//! next request of the same browser is what the directives say.

use super::jar::Jar;
use super::pipeline::{Entropy, Gateway, Request, Step};
use super::{assertion, dbsc, headers, store};
use crate::codec::b64_encode;
use crate::keys::KeyRing;
use crate::store::memory::MemoryStore;
use crate::store::Sessions;
use futures_executor::block_on;

const NOW: u64 = 1_800_000_000;
type Headers = Vec<(String, String)>;

fn h(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// A gateway and its store.
struct Site {
    gw: Gateway,
    store: MemoryStore,
}

impl Site {
    fn new(vars: &[(&str, &str)]) -> Self {
        let mut all = vec![
            (
                "ORIGINS",
                r#"[{"id":"a","url":"http://127.0.0.1:9001"},{"id":"b","url":"http://127.0.0.1:9002"}]"#,
            ),
            (
                "SESSION_KEYS",
                r#"[{"id":"k1","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#,
            ),
            ("DIRECTIVE_NONCE", "on"),
        ];
        all.extend_from_slice(vars);
        let config = crate::gateway::config::from_pairs(&all).unwrap();
        Site {
            gw: Gateway::new(config).unwrap(),
            store: MemoryStore::new(),
        }
    }

    /// One GET of `jar` answered with `answer` (the request's nonce sent back with it), as the
    /// glue runs it: the headers the origin got and those the browser got (taken into `jar`).
    fn visit(
        &mut self,
        jar: &mut Jar,
        answer: &[(&str, &str)],
        now: u64,
        n: u8,
    ) -> (Headers, Headers) {
        let headers = vec![jar.header()];
        self.send(jar, "GET", headers, answer, now, n)
    }

    /// One request of `method` with `headers` (the `Cookie` header whatever the browser sends
    /// of `jar`), answered with `answer`; the browser keeps what the answer sets into `jar`.
    fn send(
        &mut self,
        jar: &mut Jar,
        method: &str,
        headers: Headers,
        answer: &[(&str, &str)],
        now: u64,
        n: u8,
    ) -> (Headers, Headers) {
        let req = Request {
            method,
            url: "https://app.example/x",
            headers: &headers,
            has_body: method != "GET",
        };
        let entropy = Entropy {
            visitor: n.into(),
            sid: [n; 16],
            nonce: [n; 16],
            dbsc: [n; 16],
        };
        let Step::Proxy(mut attempt) = self.gw.start(&req, now, &entropy) else {
            panic!("not proxied")
        };
        let settings = self.gw.config().store.clone();
        let ring = KeyRing::from_config(&self.gw.config().tokens().keys).unwrap();
        let sessions = settings
            .as_ref()
            .map(|s| Sessions::new(&self.store, &ring, s.sessions.clone()).unwrap());
        let loaded = match (&settings, &sessions) {
            (Some(settings), Some(sessions)) => {
                // The two reads of the worker's revocation check (worker/proxy.rs), one after
                // the other: the subject's record, and the end of the token's session.
                if let Some((sub, sid, at)) = store::revocation_reads(&attempt) {
                    let revocation =
                        (sub.as_deref()).map_or(Ok(None), |sub| block_on(sessions.revocation(sub)));
                    let ended = (sid.as_deref())
                        .map_or(Ok(None), |sid| block_on(sessions.token_ended_at(sid)));
                    let answer = store::revocation_answer(revocation, ended, at, sid.as_deref());
                    self.gw.check_revocation(&mut attempt, answer);
                }
                let cookie = headers::get(&headers, "cookie");
                let mut loaded =
                    block_on(store::load(sessions, cookie, settings.cookie.name(), now))
                        .bind_request(sessions, &attempt, now);
                attempt
                    .headers
                    .extend(loaded.origin_headers(settings.most_data_bytes));
                Some(loaded)
            }
            _ => None,
        };
        if let Some(claims) = assertion::claims(self.gw.config(), &attempt) {
            let claims: serde_json::Value = serde_json::from_str(claims.identity()).unwrap();
            let status = headers::get(&attempt.headers, "x-session-status");
            assert_eq!(claims["status"].as_str(), status, "the assertion's status");
            assert_eq!(claims["sub"].as_str().is_some(), status == Some("valid"));
        }
        let mut origin = h(answer);
        if !answer.is_empty() {
            let nonce = headers::get(&attempt.headers, headers::NONCE).unwrap();
            origin.push((headers::NONCE.into(), nonce.into()));
        }
        let out = match self.gw.finish(&attempt, &origin, now, &entropy) {
            Ok(out) => out,
            Err(page) => panic!("{answer:?} refused: {}", page.body),
        };
        let mut to_client = out.headers;
        if let (Some(settings), Some(sessions), Some(loaded)) = (&settings, &sessions, loaded) {
            let plan = out.plan.unwrap_or_default();
            let done = block_on(store::finish(sessions, settings, loaded, &plan, now));
            assert_eq!(done.refused, None);
            headers::add_cookies(&mut to_client, done.set_cookie);
        }
        jar.take(&to_client);
        (attempt.headers, to_client)
    }

    /// Logs `jar` in as alice (with stored data, when there is a store) and, when `bind`,
    /// registers a device key (the signature is WebCrypto's to check, not the decisions').
    fn alice(&mut self, jar: &mut Jar, bind: bool) {
        let login = [
            ("x-session-issue", r#"{"sub":"alice"}"#),
            ("x-session-data", r#"{"alice":1}"#),
        ];
        let store = self.gw.config().store.is_some();
        let (_, out) = self.visit(jar, if store { &login } else { &login[..1] }, NOW, 1);
        if !bind {
            return;
        }
        let offer = headers::get(&out, "secure-session-registration").unwrap();
        let challenge = offer
            .split("challenge=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches('"');
        let jwk = r#"{"kty":"EC","crv":"P-256","x":"6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI","y":"IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE"}"#;
        let header = format!(r#"{{"alg":"ES256","typ":"dbsc+jwt","jwk":{jwk}}}"#);
        let proof = format!(
            "{}.{}.{}",
            b64_encode(header.as_bytes()),
            b64_encode(format!(r#"{{"jti":"{challenge}"}}"#).as_bytes()),
            b64_encode(&[7; 64])
        );
        let mut headers = vec![jar.header()];
        headers.push(("secure-session-response".into(), proof));
        let req = Request {
            method: "POST",
            url: "https://app.example/__edge/dbsc/register",
            headers: &headers,
            has_body: false,
        };
        let Step::Dbsc(dbsc::Decision::Verify(pending)) =
            self.gw.start(&req, NOW + 1, &Entropy::default())
        else {
            panic!("no registration")
        };
        let page = pending.finish(Ok(true), None);
        assert_eq!(page.status, 200, "{}", page.body);
        jar.take(&page.headers);
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Anonymous,
    LoggedIn,
    Bound,
    Unbound,
}

/// Every directive set an origin may answer with (revocations and data only with a store).
fn answers(store: bool) -> Vec<Vec<(&'static str, &'static str)>> {
    let mut all = Vec::new();
    for issue in [None, Some(r#"{"sub":"alice"}"#), Some(r#"{"sub":"bob"}"#)] {
        for revoke in [None, Some("alice"), Some("bob")] {
            for clear in [false, true] {
                for data in [false, true] {
                    if !store && (revoke.is_some() || data) {
                        continue;
                    }
                    let mut answer = Vec::new();
                    answer.extend(issue.map(|i| ("x-session-issue", i)));
                    answer.extend(revoke.map(|r| ("x-session-revoke", r)));
                    if clear {
                        answer.push(("x-session-clear", "1"));
                    }
                    if data {
                        answer.push(("x-session-data", r#"{"d":1}"#));
                    }
                    all.push(answer);
                }
            }
        }
    }
    all
}

/// Whatever the settings, the visitor's state and the directives: the answer is never refused,
/// sets each cookie once, and the browser's next request is who the directives say (the
/// login's subject; nobody after a logout or a revocation of its own subject; otherwise as
/// before, an unbound session staying unbound, its stored session held), its stored data
/// the login's patch after a login, never another user's, and the assertion says the status
/// the headers say.
#[test]
fn every_directive_set_in_every_combination() {
    let mut runs = 0;
    for format in ["compact", "sealed", "jwt"] {
        for store in ["none", "durable"] {
            for dbsc in ["off", "on"] {
                for mode in ["cookie", "url"] {
                    let vars = [
                        ("SESSION_FORMAT", format),
                        ("STORE", store),
                        ("DBSC", dbsc),
                        ("AFFINITY_MODE", mode),
                        ("ORIGIN_ASSERTION", "EdDSA"),
                    ];
                    let states = match dbsc {
                        "on" => &[
                            State::Anonymous,
                            State::LoggedIn,
                            State::Bound,
                            State::Unbound,
                        ][..],
                        _ => &[State::Anonymous, State::LoggedIn][..],
                    };
                    for &state in states {
                        for answer in answers(store != "none") {
                            check(&vars, state, &answer);
                            runs += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(runs, 1512);
}

/// One case of [`every_directive_set_in_every_combination`].
fn check(vars: &[(&str, &str)], state: State, answer: &[(&str, &str)]) {
    let what = format!("{vars:?} {state:?} {answer:?}");
    let mut site = Site::new(vars);
    let mut jar = Jar::default();
    match state {
        State::Anonymous => {}
        State::LoggedIn => site.alice(&mut jar, false),
        State::Bound => site.alice(&mut jar, true),
        State::Unbound => {
            site.alice(&mut jar, true);
            jar = jar.without("__Host-session-bound");
        }
    }
    let sid = |jar: &Jar| jar.0.iter().find(|(n, _)| n == "__Host-sid").cloned();
    let sid_before = sid(&jar);
    let (sent, out) = site.visit(&mut jar, answer, NOW + 10, 2);
    let get = |name| answer.iter().find(|(n, _)| *n == name).map(|a| a.1);
    // An unbound session's stored session is held for the bound browser.
    if state == State::Unbound
        && get("x-session-issue").is_none()
        && get("x-session-clear").is_none()
    {
        assert_eq!(sid(&jar), sid_before, "{what}");
    }
    let mut names: Vec<&str> = out
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.split('=').next().unwrap())
        .collect();
    let set = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), set, "a cookie set twice: {what}: {out:?}");

    let (next, _) = site.visit(&mut jar, &[], NOW + 11, 3);
    let before = headers::get(&sent, "x-session-sub");
    let expected = match get("x-session-issue") {
        Some(issue) if issue.contains("alice") => Some("alice"),
        Some(_) => Some("bob"),
        None if get("x-session-clear").is_some() => None,
        None if get("x-session-revoke").is_some_and(|r| Some(r) == before) => None,
        None => before,
    };
    let sub = headers::get(&next, "x-session-sub");
    assert_eq!(sub, expected, "{what}");
    if state == State::Unbound
        && expected.is_none()
        && !answer.iter().any(|(n, _)| *n == "x-session-clear")
    {
        assert_eq!(
            headers::get(&next, "x-session-status"),
            Some("unbound"),
            "{what}"
        );
    }
    // A login's data is the new session's, also when the answer logs out too (switching users).
    if get("x-session-issue").is_some() && get("x-session-data").is_some() {
        let data = headers::get(&next, "x-session-data").unwrap_or_default();
        assert!(data.contains(r#""d":1"#), "{what}: {data}");
    }
    if let Some(data) = headers::get(&next, "x-session-data") {
        assert!(
            sub == Some("alice") || !data.contains("alice"),
            "{what}: {sub:?} got {data}"
        );
    }
}

/// A form another site posts reaches the gateway without its cookies (`SameSite=Lax`; with
/// `Strict`, any cross-site request), and the browser keeps the cookies its answer sets. An
/// answer that writes session data (a cart, a flash message) gave that request a new stored
/// session, whose id cookie replaced the visitor's own: a logged-in user's next request
/// brought the other site's session beside the user's session token, which took it, planted
/// data included, and the user's own was lost. No new session but a login's there: the write
/// is dropped. A login on it (a SAML POST binding, OIDC's `form_post`) still stores its session.
#[test]
fn a_cross_site_form_plants_no_stored_session() {
    // A browser without `Sec-Fetch-Site` (Safari before 16.4) is told by its `Origin`.
    for (same_site, method, fetch) in [
        ("Lax", "POST", ("sec-fetch-site", "cross-site")),
        ("Strict", "GET", ("sec-fetch-site", "cross-site")),
        ("None", "POST", ("sec-fetch-site", "cross-site")),
        ("Lax", "POST", ("origin", "https://evil.example")),
    ] {
        let what = format!("{same_site} {method} {fetch:?}");
        let mut site = Site::new(&[("STORE", "durable"), ("COOKIE_SAMESITE", same_site)]);
        let mut jar = Jar::default();
        site.alice(&mut jar, false);
        let own = jar.get("__Host-sid").map(str::to_owned);
        // The browser sends none of the jar's cookies (but with `None`).
        let cross_site = |jar: &Jar| {
            let mut headers = h(&[fetch]);
            if same_site == "None" {
                headers.push(jar.header());
            }
            headers
        };
        let plant = [("x-session-data", r#"{"planted":1}"#)];
        let (headers, stored) = (cross_site(&jar), site.store.len());
        site.send(&mut jar, method, headers, &plant, NOW + 2, 4);
        assert_eq!(site.store.len(), stored, "{what}: a new session stored");
        let (next, _) = site.visit(&mut jar, &[], NOW + 3, 5);
        let data = headers::get(&next, "x-session-data").unwrap();
        assert_eq!(
            headers::get(&next, "x-session-sub"),
            Some("alice"),
            "{what}"
        );
        if same_site == "None" {
            // Sent with the request: the user's own session took the write.
            assert_eq!(data, r#"{"alice":1,"planted":1}"#, "{what}");
        } else {
            assert_eq!(
                jar.get("__Host-sid"),
                own.as_deref(),
                "{what}: the id replaced"
            );
            assert_eq!(data, r#"{"alice":1}"#, "{what}");
        }
        // A logout there clears the session cookie (the origin's to refuse: SECURITY.md, CSRF)
        // but not the id cookie withheld, which names the visitor's session: its removal would
        // orphan that session.
        let mut logged_out = jar.clone();
        let headers = cross_site(&logged_out);
        let clear = [("x-session-clear", "1")];
        site.send(&mut logged_out, method, headers, &clear, NOW + 3, 8);
        assert_eq!(logged_out.get("__Host-session"), None, "{what}");
        let sid = logged_out.get("__Host-sid");
        assert_eq!(sid.is_some(), same_site != "None", "{what}: {sid:?}");
        // A login there starts its session, stored and given out.
        let login = [
            ("x-session-issue", r#"{"sub":"bob"}"#),
            ("x-session-data", r#"{"bob":1}"#),
        ];
        let headers = cross_site(&jar);
        site.send(&mut jar, method, headers, &login, NOW + 4, 6);
        let (next, _) = site.visit(&mut jar, &[], NOW + 5, 7);
        assert_eq!(headers::get(&next, "x-session-sub"), Some("bob"), "{what}");
        let data = headers::get(&next, "x-session-data").unwrap();
        assert_eq!(data, r#"{"bob":1}"#, "{what}");
    }
    // A link followed from another site carries the `Lax` cookies: a new visitor's page that
    // writes gets its session.
    let mut site = Site::new(&[("STORE", "durable")]);
    let mut jar = Jar::default();
    let headers = h(&[("sec-fetch-site", "cross-site")]);
    site.send(
        &mut jar,
        "GET",
        headers,
        &[("x-session-data", r#"{"a":1}"#)],
        NOW,
        9,
    );
    assert!(jar.get("__Host-sid").is_some());
}
