//! What goes on the wire besides the proof: the header names, the registration and challenge
//! headers (structured fields, RFC 9651), the session id a refresh names, and the session
//! config JSON ([`SessionConfig`]) of the registration and refresh answers.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::json;

/// Response header offering registration: `(ES256 RS256);path="…";challenge="…"`.
pub const REGISTRATION_HEADER: &str = "Secure-Session-Registration";
/// Response header of a refresh challenge: `"<challenge>";id="<session id>"`.
pub const CHALLENGE_HEADER: &str = "Secure-Session-Challenge";
/// Request header carrying the browser's proof (a structured-field string).
pub const RESPONSE_HEADER: &str = "Secure-Session-Response";
/// Request header of a refresh: the session identifier (a structured-field string).
pub const SESSION_ID_HEADER: &str = "Sec-Secure-Session-Id";

/// `value` as a structured-field string (RFC 9651 section 3.3.3): quoted, `"` and `\`
/// escaped. Only visible ASCII and space can be said: anything else is `invalid_config`
/// naming `setting`.
pub fn sf_string(value: &str, setting: &'static str) -> Result<String> {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {
                return Err(Error::config_of(
                    setting,
                    format!(
                        "{setting}: only visible ASCII and space fit a structured-field string"
                    ),
                ))
            }
        }
    }
    out.push('"');
    Ok(out)
}

/// The `Secure-Session-Registration` value offering both algorithms:
/// `(ES256 RS256);path="<path>";challenge="<challenge>"` and `;authorization="<a>"` when given.
///
/// ```
/// use edge_session::dbsc::wire::registration_header;
/// assert_eq!(
///     registration_header("c1", "/__edge/dbsc/register", None)?,
///     r#"(ES256 RS256);path="/__edge/dbsc/register";challenge="c1""#
/// );
/// # Ok::<(), edge_session::Error>(())
/// ```
pub fn registration_header(
    challenge: &str,
    path: &str,
    authorization: Option<&str>,
) -> Result<String> {
    let mut out = format!(
        "(ES256 RS256);path={};challenge={}",
        sf_string(path, "path")?,
        sf_string(challenge, "challenge")?
    );
    if let Some(a) = authorization {
        out.push_str(";authorization=");
        out.push_str(&sf_string(a, "authorization")?);
    }
    Ok(out)
}

/// Refuses (`invalid_config`, setting `sessionId`) a session identifier that no
/// `Secure-Session-Challenge` can name ([`sf_string`]), or that would not read back from a
/// `Sec-Secure-Session-Id` sent without quotes, as Chrome sends it ([`session_id_from_header`]:
/// an empty one, one that begins with `"`, or with a space or tab at either end): checked where a session
/// begins, so that it does not fail at its first refresh.
pub fn check_session_id(session_id: &str) -> Result<()> {
    sf_string(session_id, "sessionId")?;
    let blank = |c: Option<char>| matches!(c, Some(' ' | '\t'));
    if session_id.is_empty()
        || session_id.starts_with('"')
        || blank(session_id.chars().next())
        || blank(session_id.chars().last())
    {
        return Err(Error::config_of(
            "sessionId",
            "sessionId: it must not be empty, begin with a quote, or begin or end with a space, or a refresh could not name it",
        ));
    }
    Ok(())
}

/// The `Secure-Session-Challenge` value: `"<challenge>";id="<session id>"`.
pub fn challenge_header(challenge: &str, session_id: &str) -> Result<String> {
    Ok(format!(
        "{};id={}",
        sf_string(challenge, "challenge")?,
        sf_string(session_id, "sessionId")?
    ))
}

/// The session identifier of a `Sec-Secure-Session-Id` value: a structured-field string
/// (unescaped, parameters ignored) or, not quoted, the value itself (spaces around it
/// trimmed); `None` for an empty value or a string that is not well formed.
pub fn session_id_from_header(value: &str) -> Option<String> {
    let value = value.trim_matches([' ', '\t']);
    let Some(rest) = value.strip_prefix('"') else {
        return (!value.is_empty()).then(|| value.to_owned());
    };
    let mut out = String::new();
    let mut chars = rest.chars();
    loop {
        match chars.next()? {
            '"' => break,
            '\\' => match chars.next()? {
                c @ ('"' | '\\') => out.push(c),
                _ => return None,
            },
            c @ ' '..='~' => out.push(c),
            _ => return None,
        }
    }
    let after = chars.as_str();
    (after.is_empty() || after.starts_with(';')).then_some(out)
}

/// The session config JSON (the W3C draft's "session instructions"): the body of a
/// registration answer and of a refresh answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionConfig {
    /// The session's identifier, which refreshes name in `Sec-Secure-Session-Id`.
    pub session_identifier: String,
    /// Where the browser refreshes.
    pub refresh_url: String,
    /// `true`: the session goes on (see [`SessionConfig::end`] for the end).
    #[serde(rename = "continue")]
    pub continue_: bool,
    /// Which requests the session covers.
    pub scope: Scope,
    /// The cookies the session keeps fresh.
    pub credentials: Vec<Credential>,
}

/// A session's scope: one origin, not its whole site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// The origin, for example `https://app.example`.
    pub origin: String,
    /// Whether the whole site is covered: `false` here.
    pub include_site: bool,
}

/// A bound credential: a cookie with its name and attributes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// Always `cookie`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The cookie's name.
    pub name: String,
    /// Its attributes, as the `Set-Cookie` sets them (`Path=/; Secure; HttpOnly; SameSite=Lax`).
    pub attributes: String,
}

impl SessionConfig {
    /// The config of a session `session_id` refreshed at `refresh_url`, covering `origin`,
    /// keeping the cookie `cookie_name` with `attributes` fresh.
    pub fn new(
        session_id: &str,
        refresh_url: &str,
        origin: &str,
        cookie_name: &str,
        attributes: &str,
    ) -> SessionConfig {
        SessionConfig {
            session_identifier: session_id.to_owned(),
            refresh_url: refresh_url.to_owned(),
            continue_: true,
            scope: Scope {
                origin: origin.to_owned(),
                include_site: false,
            },
            credentials: vec![Credential {
                kind: "cookie".to_owned(),
                name: cookie_name.to_owned(),
                attributes: attributes.to_owned(),
            }],
        }
    }

    /// The JSON text, members in the order above (written without `serde_json`, which the
    /// JavaScript face's wasm does without).
    ///
    /// ```
    /// use edge_session::dbsc::SessionConfig;
    /// let json = SessionConfig::new("s1", "/r", "https://a.example", "b", "Path=/").to_json();
    /// assert_eq!(
    ///     json,
    ///     r#"{"session_identifier":"s1","refresh_url":"/r","continue":true,"scope":{"origin":"https://a.example","include_site":false},"credentials":[{"type":"cookie","name":"b","attributes":"Path=/"}]}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        let member = |out: &mut String, first: bool, name: &str| {
            out.push_str(if first { "" } else { "," });
            json::write_string(out, name);
            out.push(':');
        };
        out.push('{');
        member(&mut out, true, "session_identifier");
        json::write_string(&mut out, &self.session_identifier);
        member(&mut out, false, "refresh_url");
        json::write_string(&mut out, &self.refresh_url);
        member(&mut out, false, "continue");
        out.push_str(if self.continue_ { "true" } else { "false" });
        member(&mut out, false, "scope");
        out.push('{');
        member(&mut out, true, "origin");
        json::write_string(&mut out, &self.scope.origin);
        member(&mut out, false, "include_site");
        out.push_str(if self.scope.include_site {
            "true"
        } else {
            "false"
        });
        out.push_str("},");
        json::write_string(&mut out, "credentials");
        out.push_str(":[");
        for (i, c) in self.credentials.iter().enumerate() {
            out.push_str(if i == 0 { "{" } else { ",{" });
            member(&mut out, true, "type");
            json::write_string(&mut out, &c.kind);
            member(&mut out, false, "name");
            json::write_string(&mut out, &c.name);
            member(&mut out, false, "attributes");
            json::write_string(&mut out, &c.attributes);
            out.push('}');
        }
        out.push_str("]}");
        out
    }

    /// The answer that ends a session: `{"continue":false}`.
    pub fn end() -> String {
        r#"{"continue":false}"#.to_owned()
    }

    /// Refuses (`invalid_config`, naming the setting) a config that a browser would not act
    /// on, rather than have the session fail there without a word: a session id no refresh can
    /// name ([`check_session_id`]); a scope that is not a serialized origin
    /// (`http(s)://host[:port]`, nothing after it: no path, not even `/`); a cookie name that is
    /// not 1 to [`MAX_NAME_BYTES`](crate::cookie::MAX_NAME_BYTES) token characters; a refresh
    /// URL that is empty or holds a character other than visible ASCII and space (as a
    /// registration's `path`); attributes with such a character.
    ///
    /// ```
    /// use edge_session::dbsc::SessionConfig;
    /// let config = |origin| SessionConfig::new("s1", "/r", origin, "__Host-bound", "Path=/");
    /// assert!(config("https://app.example").check().is_ok());
    /// assert!(config("http://127.0.0.1:8787").check().is_ok());
    /// let e = config("https://app.example/").check().unwrap_err();
    /// assert_eq!((e.code(), e.setting()), ("invalid_config", Some("origin")));
    /// ```
    pub fn check(&self) -> Result<()> {
        check_session_id(&self.session_identifier)?;
        // As a registration's `path` ([`registration_header`]).
        if self.refresh_url.is_empty() || !printable(&self.refresh_url) {
            return Err(Error::config_of(
                "refreshUrl",
                "refreshUrl: a URL of visible ASCII and space, not empty",
            ));
        }
        if !is_origin(&self.scope.origin) {
            return Err(Error::config_of(
                "origin",
                "origin: a serialized origin, scheme://host[:port] (http or https), with nothing after it",
            ));
        }
        for c in &self.credentials {
            // The message says the number (a `format!` of it adds 100 B to the wasm).
            const _: () = assert!(crate::cookie::MAX_NAME_BYTES == 256);
            if !crate::cookie::is_name(&c.name) {
                return Err(Error::config_of(
                    "cookieName",
                    "cookieName: 1 to 256 token characters",
                ));
            }
            if !printable(&c.attributes) {
                return Err(Error::config_of(
                    "attributes",
                    "attributes: visible ASCII and space only",
                ));
            }
        }
        Ok(())
    }
}

/// Whether `text` is visible ASCII and space only.
fn printable(text: &str) -> bool {
    text.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// Whether `text` is a serialized origin of http or https: the scheme, `://`, a host (a domain
/// in ASCII, or an IPv6 address in brackets) and an optional port of 1 to 5 digits up to 65535,
/// nothing else.
fn is_origin(text: &str) -> bool {
    let Some(authority) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.starts_with('[') || host.ends_with(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').is_some_and(|a| {
            !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }),
        // The URL standard's domain, ASCII (an IDN as its punycode): no forbidden domain code
        // point; `_` (`my_app.example`) is one it takes.
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !br#"#%/:<>?@[\]^|"#.contains(&b))
        }
    };
    let port_ok = port.is_none_or(|p| p.len() <= 5 && json::whole(p).is_some_and(|n| n <= 65_535));
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_as_the_draft_writes_them() {
        assert_eq!(
            registration_header("cv", "reg", Some("ac")).unwrap(),
            r#"(ES256 RS256);path="reg";challenge="cv";authorization="ac""#
        );
        assert_eq!(
            challenge_header("new challenge", "my session").unwrap(),
            r#""new challenge";id="my session""#
        );
        assert_eq!(
            challenge_header(r#"a"b\c"#, "s").unwrap(),
            r#""a\"b\\c";id="s""#
        );
        for (value, setting) in [("é", "path"), ("a\nb", "path"), ("\u{7f}", "path")] {
            let e = registration_header("c", value, None).unwrap_err();
            assert_eq!((e.code(), e.setting()), ("invalid_config", Some(setting)));
        }
        let e = registration_header("c", "/", Some("\t")).unwrap_err();
        assert_eq!(e.setting(), Some("authorization"));
        assert_eq!(
            challenge_header("c", "é").unwrap_err().setting(),
            Some("sessionId")
        );
    }

    #[test]
    fn session_ids_read_back() {
        for (value, id) in [
            (r#""session-id""#, Some("session-id")),
            (r#" "a\"b\\c";x=1 "#, Some(r#"a"b\c"#)),
            ("plain", Some("plain")),
            ("", None),
            ("\"", None),
            (r#""a"b"#, None),
            (r#""a\b""#, None),
            ("\"é\"", None),
        ] {
            assert_eq!(session_id_from_header(value).as_deref(), id, "{value}");
        }
        // Every session id check_session_id lets through reads back, quoted or not.
        for id in ["s1", r#"a "quoted" id"#, r#"a\b"#, "x y", "ends\""] {
            if check_session_id(id).is_ok() {
                let quoted = sf_string(id, "sessionId").unwrap();
                assert_eq!(session_id_from_header(&quoted).as_deref(), Some(id), "{id}");
                assert_eq!(session_id_from_header(id).as_deref(), Some(id), "{id}");
            }
        }
        for id in ["", r#""starts"#, " lead", "trail ", "\tt"] {
            let err = check_session_id(id).unwrap_err();
            assert_eq!(err.setting(), Some("sessionId"), "{id}");
        }
        // What challenge_header writes reads back.
        let header = challenge_header("c", r#"we"ird\id"#).unwrap();
        let id = header.split_once(";id=").unwrap().1;
        assert_eq!(session_id_from_header(id).as_deref(), Some(r#"we"ird\id"#));
    }

    #[test]
    fn config_json_agrees_with_serde() {
        let config = SessionConfig::new(
            "s\"1",
            "/__edge/dbsc/refresh",
            "https://app.example",
            "__Host-session-bound",
            "Path=/; Secure; HttpOnly; SameSite=Lax",
        );
        let ours: serde_json::Value = serde_json::from_str(&config.to_json()).unwrap();
        assert_eq!(ours, serde_json::to_value(&config).unwrap());
        assert_eq!(ours["continue"], true);
        assert_eq!(ours["scope"]["include_site"], false);
        assert_eq!(ours["credentials"][0]["type"], "cookie");
        assert_eq!(serde_json::to_string(&config).unwrap(), config.to_json());
        assert_eq!(SessionConfig::end(), r#"{"continue":false}"#);
    }

    /// A config a browser would not act on is refused, naming the setting; every part that a
    /// browser takes passes.
    #[test]
    fn a_config_a_browser_would_not_act_on_is_refused() {
        let config = |sid: &str, url: &str, origin: &str, name: &str, attributes: &str| {
            SessionConfig::new(sid, url, origin, name, attributes).check()
        };
        let good = |origin: &str| config("s1", "/r", origin, "__Host-bound", "Path=/; Secure");
        for origin in [
            "https://app.example",
            "http://localhost",
            "http://127.0.0.1:8787",
            "https://xn--bcher-kva.example:443",
            "https://[::1]",
            "http://[2001:db8::1]:8080",
            "http://[::ffff:192.0.2.1]",
            "https://A-1.Example",
            "https://h:65535",
            "https://my_app.example",
        ] {
            assert_eq!(good(origin), Ok(()), "{origin}");
        }
        for origin in [
            "",
            "app.example",
            "https://",
            "https://app.example/",
            "https://app.example/path",
            "https://app.example?q",
            "https://app.example#f",
            "https://app.example\\x",
            "https://app.example%2F",
            "https://a|b.example",
            "https://a^b.example",
            "https://a<b>.example",
            "https://user@app.example",
            "https://app.example:",
            "https://app.example:65536",
            "https://app.example:123456",
            "https://app.example:8o",
            "https://app example",
            "https://bücher.example",
            "https://[::1",
            "https://[]",
            "https://[::1]x",
            "https://[::g]",
            "ftp://app.example",
            "wss://app.example",
            " https://app.example",
        ] {
            let e = good(origin).unwrap_err();
            assert_eq!(
                (e.code(), e.setting()),
                ("invalid_config", Some("origin")),
                "{origin:?}"
            );
        }
        let setting = |r: Result<()>| r.unwrap_err().setting();
        let long = "a".repeat(crate::cookie::MAX_NAME_BYTES + 1);
        for name in ["", "a b", "a;b", "a=b", "é", "a\n", long.as_str()] {
            let r = config("s1", "/r", "https://a.example", name, "Path=/");
            assert_eq!(setting(r), Some("cookieName"), "{name:?}");
        }
        let longest = &long[1..];
        assert_eq!(config("s1", "/r", "https://a.example", longest, ""), Ok(()));
        assert_eq!(
            config("s1", "/r x", "https://a.example", "b", "Path=/"),
            Ok(())
        );
        for url in ["", "/r\n", "/é", "/r\u{7f}", "/r\t"] {
            let r = config("s1", url, "https://a.example", "b", "Path=/");
            assert_eq!(setting(r), Some("refreshUrl"), "{url:?}");
        }
        for attributes in ["Path=/\r\nX: y", "Path=/\t", "Domain=é"] {
            let r = config("s1", "/r", "https://a.example", "b", attributes);
            assert_eq!(setting(r), Some("attributes"), "{attributes:?}");
        }
        let r = config(" s1", "/r", "https://a.example", "b", "Path=/");
        assert_eq!(setting(r), Some("sessionId"));
    }
}
