//! JWT HS256 interop (RFC 7519 / RFC 7515): read the tokens other systems issue, issue tokens
//! they read.
//!
//! [`SessionTokens`](crate::SessionTokens) signs and verifies JWTs with the same keyring as its compact tokens. For
//! interop the HMAC key is the raw secret (not a per-purpose subkey), so any JWT library given
//! the same secret bytes agrees. When the ring holds more than one key the header names the
//! signing key in `kid`; a token without `kid` is tried against each key in turn (the single key
//! in the usual case, and the old key after a rotation from a single-key ring).
//!
//! Verification checks, in order: size (`too_large`), three strict base64url segments and a
//! header that is one JSON object with unique member names, an `alg` of exactly `HS256`
//! (`unsupported_alg`, for `none` too), an optional `typ` of `JWT` or `application/jwt` (any
//! case), no `crit` and no `b64` but `true` (`malformed`), the key id (`unknown_key`), the
//! signature (`bad_signature`, constant time), claims with unique names and well-typed
//! registered claims (`malformed`; `exp` is required), time with leeway (`expired`,
//! `not_yet_valid`), then [`VerifyOptions`] (`wrong_issuer`, `wrong_audience`, `revoked`).
//!
//! ```
//! use edge_session::{JwtSignOptions, KeyConfig, SessionTokens, TokenConfig, VerifyOptions};
//! use serde_json::{json, Value};
//!
//! let tokens = SessionTokens::new(TokenConfig::new(vec![KeyConfig {
//!     id: "k1".into(),
//!     secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA".into(),
//! }]))?;
//! let jwt = tokens.sign_jwt(
//!     &json!({ "sub": "user-12345" }),
//!     &JwtSignOptions::at(1_800_000_000).issuer("https://auth.example").audience("app"),
//! )?;
//! let options = VerifyOptions::at(1_800_000_060).issuer("https://auth.example").audience("app");
//! let claims: Value = tokens.verify_jwt(&jwt, &options)?;
//! assert_eq!(claims["sub"], "user-12345");
//! assert_eq!(claims["exp"], 1_800_003_600);
//! # Ok::<(), edge_session::Error>(())
//! ```

use super::claims::{claims_object, Registered, Verified, VerifyOptions};
use super::envelope::{check_size, check_ttl, nbf_claim};
use crate::codec::{b64_decode, b64_decode_slice, b64_encode, b64_encode_to};
use crate::error::{Error, Result};
use crate::json;
use crate::keys::{signing_key, KeyRing, MacKey};
use crate::time::{self, UnixTime};

/// The one algorithm accepted.
const ALG: &str = "HS256";
/// Length of an HS256 signature.
const SIGNATURE_BYTES: usize = 32;

/// Options of [`SessionTokens::sign_jwt`](crate::SessionTokens::sign_jwt). `Copy`, like
/// [`VerifyOptions`]: each method returns changed options (`#[must_use]`).
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let options = edge_session::JwtSignOptions::at(1_800_000_000);
/// options.audience("api");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct JwtSignOptions<'a> {
    /// The current time: `iat`, and `exp = now + ttl`.
    pub now: UnixTime,
    /// Lifetime in seconds; `None` for the configured `ttlSeconds`.
    pub ttl_seconds: Option<u64>,
    /// Sets `iss`.
    pub issuer: Option<&'a str>,
    /// Sets `aud` (a single string).
    pub audience: Option<&'a str>,
}

impl<'a> JwtSignOptions<'a> {
    /// Signing at `now` with the configured lifetime, no `iss` or `aud` added.
    pub fn at(now: UnixTime) -> Self {
        JwtSignOptions {
            now,
            ttl_seconds: None,
            issuer: None,
            audience: None,
        }
    }

    /// Lifetime other than the configured one.
    #[must_use = "options are `Copy`: this returns the changed options, the receiver is unchanged"]
    pub fn ttl_seconds(mut self, ttl: u64) -> Self {
        self.ttl_seconds = Some(ttl);
        self
    }

    /// Sets the `iss` claim.
    #[must_use = "options are `Copy`: this returns the changed options, the receiver is unchanged"]
    pub fn issuer(mut self, issuer: &'a str) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Sets the `aud` claim.
    #[must_use = "options are `Copy`: this returns the changed options, the receiver is unchanged"]
    pub fn audience(mut self, audience: &'a str) -> Self {
        self.audience = Some(audience);
        self
    }
}

/// The header this crate writes when the ring holds one key.
const JOSE_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Which key a header names.
enum Kid {
    None,
    Index(usize),
    Named(String),
}

/// The keyring for JWTs: raw-secret HMAC keys, with the base64url text of the usual headers
/// precomputed so that verification need not decode and parse them.
#[derive(Clone)]
pub(crate) struct JwtKeys {
    keys: Vec<JwtKey>,
    /// Usual headers without `kid`, as base64url.
    plain: [String; 3],
}

#[derive(Clone)]
struct JwtKey {
    id: String,
    mac: MacKey,
    /// `{"alg":"HS256","typ":"JWT","kid":"<id>"}` as base64url.
    header: String,
}

impl JwtKeys {
    pub(crate) fn new(ring: &KeyRing) -> Self {
        let keys = ring
            .iter()
            .map(|(id, secret)| JwtKey {
                id: id.to_owned(),
                mac: MacKey::new(secret.expose()),
                // Key ids are A-Z a-z 0-9 . _ - (checked by the keyring): nothing to escape.
                header: b64_encode(
                    format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{id}"}}"#).as_bytes(),
                ),
            })
            .collect();
        let plain = [
            JOSE_HEADER,
            r#"{"alg":"HS256"}"#,
            r#"{"typ":"JWT","alg":"HS256"}"#,
        ]
        .map(|h| b64_encode(h.as_bytes()));
        JwtKeys { keys, plain }
    }

    /// Signs claims given as the text of a JSON object (see
    /// [`SessionTokens::sign_jwt`](crate::SessionTokens::sign_jwt)); `default_ttl` when the
    /// options give no lifetime.
    pub(crate) fn sign(
        &self,
        claims: &str,
        options: &JwtSignOptions<'_>,
        default_ttl: u64,
        max_token_bytes: usize,
    ) -> Result<String> {
        let signer = signing_key(&self.keys)?;
        let mut claims = claims_object(claims)?;
        let now = options.now;
        let ttl = options.ttl_seconds.unwrap_or(default_ttl);
        // `now + ttl` is at most LATEST_NOW + MAX_TTL < MAX_TIME (see `Envelope::stamp`).
        crate::time::check_now(now)?;
        check_ttl(ttl)?;
        if let Some(nbf) = claims.get("nbf") {
            nbf_claim(nbf, now + ttl)?;
        }
        claims.insert("iat", json::number(now));
        claims.insert("exp", json::number(now + ttl));
        if let Some(issuer) = options.issuer {
            claims.insert("iss", json::quoted(issuer));
        }
        if let Some(audience) = options.audience {
            claims.insert("aud", json::quoted(audience));
        }
        let payload = claims.to_json();

        // The token in one buffer: header, payload, signature.
        let [usual, ..] = &self.plain;
        let header = if self.keys.len() > 1 {
            &signer.header
        } else {
            usual
        };
        let signed_len = header.len() + 1 + payload.len().div_ceil(3) * 4;
        // 43: the 32-byte signature in base64url.
        let mut token = Vec::with_capacity(signed_len + 1 + 43);
        token.extend_from_slice(header.as_bytes());
        token.push(b'.');
        b64_encode_to(&mut token, payload.as_bytes());
        let signature = signer.mac.full_tag(&token);
        token.push(b'.');
        b64_encode_to(&mut token, &signature);
        // Only base64url characters and dots were written.
        let token = String::from_utf8(token).unwrap_or_default();
        check_size(&token, max_token_bytes)?;
        Ok(token)
    }

    /// Verifies a JWT HS256; the payload as JSON text.
    pub(crate) fn verify(
        &self,
        token: &str,
        options: &VerifyOptions<'_>,
        leeway: u64,
        max_token_bytes: usize,
    ) -> Result<Verified<String>> {
        // Milliseconds would read every token as expired, saying nothing of the clock. (Here, not
        // in `verify_claims`: the JS face's `verifyJwt`, which calls that, checked its `now`.)
        crate::time::check_now(options.now)?;
        let (claims, index) = self.verify_claims(token, options, leeway, max_token_bytes)?;
        let key_id = self.keys.get(index).map(|k| k.id.as_str());
        Ok(Verified::by_key(claims, key_id, index))
    }

    /// [`JwtKeys::verify`] without the key id: the payload as JSON text, and the position of
    /// the key in the ring.
    pub(crate) fn verify_claims(
        &self,
        token: &str,
        options: &VerifyOptions<'_>,
        leeway: u64,
        max_token_bytes: usize,
    ) -> Result<(String, usize)> {
        check_size(token, max_token_bytes)?;
        let mut segments = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(Error::Malformed("a JWT has three segments"));
        };
        // The usual headers are recognised by their text (canonical base64url has one text per
        // value); any other is decoded and checked.
        let kid = match self.keys.iter().position(|k| k.header == header) {
            Some(index) => Kid::Index(index),
            None if self.plain.iter().any(|h| h == header) => Kid::None,
            None => match read_jose_header(&b64_decode(header)?)? {
                Some(kid) => Kid::Named(kid),
                None => Kid::None,
            },
        };
        let claims = b64_decode(payload)?;
        let signature = signature_bytes(signature)?;
        // `header.payload`, the start of `token` (three segments were found above).
        let signing_input = token
            .as_bytes()
            .get(..header.len() + 1 + payload.len())
            .ok_or(Error::Malformed("a JWT has three segments"))?;
        let keys = &self.keys;
        let index = match kid {
            Kid::Index(index) => Some(index),
            Kid::Named(kid) => Some(
                keys.iter()
                    .position(|k| k.id == kid)
                    .ok_or_else(|| Error::unknown_key(kid.as_bytes()))?,
            ),
            Kid::None => None,
        };
        let verifies = |(_, k): &(usize, &JwtKey)| k.mac.verify_full(signing_input, &signature);
        let Some((index, _)) = (match index {
            Some(i) => keys.get(i).map(|k| (i, k)).filter(verifies),
            None => keys.iter().enumerate().find(verifies),
        }) else {
            return Err(Error::BadSignature);
        };

        // Authentic from here on.
        let claims =
            String::from_utf8(claims).map_err(|_| Error::Malformed("claims are not UTF-8"))?;
        let registered = Registered::parse(&claims)?;
        let exp = registered
            .exp
            .ok_or(Error::Malformed("a JWT must carry exp"))?;
        let starts = [registered.iat_start, registered.nbf];
        if let Err(outside) = time::check(options.now, leeway, Some(exp), &starts) {
            return Err(options.vet(outside.error(claims)));
        }
        options.check(&registered, &claims)?;
        Ok((claims, index))
    }
}

/// An HS256 signature's 43 characters (32 bytes in base64url) decoded on the stack;
/// `malformed` for any other text.
fn signature_bytes(text: &str) -> Result<[u8; SIGNATURE_BYTES]> {
    let mut buf = [0u8; 43];
    if text.len() != buf.len() {
        return Err(Error::Malformed("an HS256 signature is 32 bytes"));
    }
    buf.copy_from_slice(text.as_bytes());
    b64_decode_slice(&mut buf)?;
    let mut signature = [0u8; SIGNATURE_BYTES];
    signature.iter_mut().zip(buf).for_each(|(s, b)| *s = b);
    Ok(signature)
}

/// Checks a JOSE header and returns its `kid`.
fn read_jose_header(header: &[u8]) -> Result<Option<String>> {
    let header =
        std::str::from_utf8(header).map_err(|_| Error::Malformed("header is not UTF-8"))?;
    let members = json::members(header).map_err(|e| Error::Malformed(e.message("header")))?;
    let get = |name| json::get(&members, name);
    match get("alg").map(json::string) {
        Some(Some(alg)) if alg == ALG => {}
        Some(Some(alg)) => return Err(Error::unsupported_alg(&alg)),
        Some(None) => return Err(Error::Malformed("alg must be a string")),
        None => return Err(Error::Malformed("header has no alg")),
    }
    // A media type, whose "application/" may be left out (RFC 7515 section 4.1.9), in any case.
    match get("typ").map(json::string) {
        None => {}
        Some(Some(typ))
            if ["JWT", "application/jwt"]
                .iter()
                .any(|t| typ.eq_ignore_ascii_case(t)) => {}
        Some(_) => return Err(Error::Malformed("typ must be JWT")),
    }
    if get("crit").is_some() {
        return Err(Error::Malformed("no crit header extension is supported"));
    }
    // RFC 7797's unencoded payload: without its `crit` jose ignores `b64: false` and reads the
    // payload as base64url, PyJWT honours it. Libraries disagree on what was signed: refused.
    if get("b64").is_some_and(|b64| b64 != "true") {
        return Err(Error::Malformed("b64 must be true"));
    }
    match get("kid").map(json::string) {
        None => Ok(None),
        Some(Some(kid)) => Ok(Some(kid.into_owned())),
        Some(None) => Err(Error::Malformed("kid must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_error(json: &str) -> String {
        match read_jose_header(json.as_bytes()) {
            Ok(kid) => format!("ok {kid:?}"),
            Err(e) => e.code().to_owned(),
        }
    }

    #[test]
    fn header_rules() {
        assert_eq!(header_error(r#"{"alg":"HS256"}"#), "ok None");
        assert_eq!(
            header_error(r#"{"typ":"jwt","alg":"HS256","kid":"k2"}"#),
            "ok Some(\"k2\")"
        );
        assert_eq!(
            header_error(r#"{"alg":"HS256","cty":"x","jku":"y"}"#),
            "ok None"
        );
        assert_eq!(
            header_error(r#"{"alg":"HS256","typ":"application/JWT"}"#),
            "ok None"
        );
        for (json, code) in [
            (r#"{"alg":"none"}"#, "unsupported_alg"),
            (r#"{"alg":"HS512"}"#, "unsupported_alg"),
            (r#"{"alg":"hs256"}"#, "unsupported_alg"),
            (r#"{"alg":"RS256","typ":"JWT"}"#, "unsupported_alg"),
            (r#"{"typ":"JWT"}"#, "malformed"),
            (r#"{"alg":null}"#, "malformed"),
            (r#"{"alg":"HS256","alg":"HS256"}"#, "malformed"),
            (r#"{"alg":"HS256","kid":"a","kid":"b"}"#, "malformed"),
            (r#"{"alg":"none","alg":"HS256"}"#, "malformed"),
            (r#"{"alg":"HS256","typ":"at+jwt"}"#, "malformed"),
            (r#"{"alg":"HS256","kid":1}"#, "malformed"),
            (r#"{"alg":"HS256","crit":["b64"],"b64":false}"#, "malformed"),
            (r#"{"alg":"HS256","b64":false}"#, "malformed"),
            (r#"["alg","HS256"]"#, "malformed"),
            (r#"{"alg":"HS256"} x"#, "malformed"),
        ] {
            assert_eq!(header_error(json), code, "{json}");
        }
    }
}
