//! The browser's proof ([`Proof`]): the JWT of the `Secure-Session-Response` header, signed by
//! the device key. Read strictly, all in one place, before anything in it is used; its
//! signature is checked by WebCrypto in the faces (`crate::webcrypto::verify_device`), over
//! [`Proof::signing_input`] with the key [`crate::dbsc::DeviceBinding`] names.

use crate::codec::b64_decode;
use crate::dbsc::key::{Alg, DeviceKey, MAX_RSA_BITS, MIN_RSA_BITS};
use crate::error::{Error, Result};
use crate::json;
use crate::jws;

/// The longest proof accepted, bytes (a 4096-bit RSA key and signature fit in under 2 KB).
pub const MAX_PROOF_BYTES: usize = 8192;

/// The JOSE `typ` of a DBSC proof.
pub const TYP: &str = "dbsc+jwt";

/// A DBSC proof, read but not verified: the signature is still to be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    alg: Alg,
    jti: String,
    authorization: Option<String>,
    jwk: Option<DeviceKey>,
    input: String,
    signature: Vec<u8>,
}

impl Proof {
    /// Reads a proof: the value of `Secure-Session-Response`, a structured-field string
    /// (`"<jwt>"`, its parameters ignored) or the bare JWT. At most [`MAX_PROOF_BYTES`]
    /// (`too_large`); three base64url segments without padding; a JOSE header that is one JSON
    /// object without duplicate members, with `alg` `ES256` or `RS256` (`unsupported_alg` for
    /// any other, `none` included), `typ` exactly `dbsc+jwt`, no `crit`, and an optional `jwk`
    /// of that algorithm's key type ([`DeviceKey::from_jwk_json`]); a payload object with a
    /// string `jti` and an optional string `authorization`; a signature of 64 bytes for ES256,
    /// of the modulus length for RS256 (2048 to 4096 bits; that of the `jwk` when there is
    /// one). Everything else is `malformed`.
    ///
    /// ```
    /// use edge_session::dbsc::Proof;
    /// // A proof signed with `alg` none: refused before anything else is read.
    /// let none = "eyJhbGciOiJub25lIiwidHlwIjoiZGJzYytqd3QifQ.eyJqdGkiOiJjdiJ9.";
    /// assert_eq!(Proof::parse(none).unwrap_err().code(), "unsupported_alg");
    /// ```
    pub fn parse(value: &str) -> Result<Proof> {
        let malformed = Error::Malformed;
        let jwt = unquote(value)?;
        let segments = jws::split(jwt, MAX_PROOF_BYTES)?;

        let header = jws::json_text(segments.header, "header is not UTF-8")?;
        let members = json::members(&header).map_err(|e| malformed(e.message("header")))?;
        let get = |name| json::get(&members, name);
        let alg = match get("alg").map(json::string) {
            Some(Some(alg)) => Alg::parse(&alg).ok_or_else(|| Error::unsupported_alg(&alg))?,
            Some(None) => return Err(malformed("alg must be a string")),
            None => return Err(malformed("header has no alg")),
        };
        if get("typ").and_then(json::string).as_deref() != Some(TYP) {
            return Err(malformed("typ must be dbsc+jwt"));
        }
        if get("crit").is_some() {
            return Err(malformed("no crit header extension is supported"));
        }
        let jwk = get("jwk").map(DeviceKey::from_jwk_json).transpose()?;
        if jwk.as_ref().is_some_and(|key| key.alg() != alg) {
            return Err(malformed("the jwk is not a key of the header's alg"));
        }

        let payload = jws::json_text(segments.payload, "claims are not UTF-8")?;
        let claims = json::members(&payload).map_err(|e| malformed(e.message("claims")))?;
        let jti = json::get(&claims, "jti")
            .and_then(json::string)
            .ok_or(malformed("a proof needs a jti string"))?
            .into_owned();
        let authorization = match json::get(&claims, "authorization").map(json::string) {
            None => None,
            Some(Some(a)) => Some(a.into_owned()),
            Some(None) => return Err(malformed("authorization must be a string")),
        };

        let signature = b64_decode(segments.signature)?;
        let fits = match (&jwk, alg) {
            (Some(key), _) => signature.len() == key.signature_len(),
            (None, Alg::ES256) => signature.len() == 64,
            (None, Alg::RS256) => (MIN_RSA_BITS / 8..=MAX_RSA_BITS / 8).contains(&signature.len()),
        };
        if !fits {
            return Err(malformed("the signature has the wrong length for its alg"));
        }
        Ok(Proof {
            alg,
            jti,
            authorization,
            jwk,
            input: segments.input.to_owned(),
            signature,
        })
    }

    /// The algorithm the header names.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The `jti` claim: the challenge the proof answers.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The `authorization` claim, when present: the browser's copy of the registration
    /// header's `authorization` parameter, for the server that set one to compare.
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// The `jwk` of the header: the new key, on registration proofs.
    pub fn jwk(&self) -> Option<&DeviceKey> {
        self.jwk.as_ref()
    }

    /// The bytes the signature covers (`header.payload`, as sent).
    pub fn signing_input(&self) -> &[u8] {
        self.input.as_bytes()
    }

    /// The signature: raw `r || s` for ES256 (what WebCrypto verifies), PKCS #1 v1.5 for RS256.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

/// The JWT of a header value: the content of a structured-field string (RFC 9651 section
/// 3.3.3; a JWT needs no escapes, so a backslash is refused), its parameters ignored, or the
/// value itself when it is not quoted.
fn unquote(value: &str) -> Result<&str> {
    let value = value.trim_matches([' ', '\t']);
    let Some(rest) = value.strip_prefix('"') else {
        return Ok(value);
    };
    let (jwt, after) = rest
        .split_once('"')
        .ok_or(Error::Malformed("an unterminated string"))?;
    if jwt.contains('\\') || !(after.is_empty() || after.starts_with(';')) {
        return Err(Error::Malformed("not a structured-field string"));
    }
    Ok(jwt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::b64_encode;

    const X: &str = "6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI";
    const Y: &str = "IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE";

    fn ec_jwk() -> String {
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}"}}"#)
    }

    fn jwt(header: &str, payload: &str, signature_len: usize) -> String {
        format!(
            "{}.{}.{}",
            b64_encode(header.as_bytes()),
            b64_encode(payload.as_bytes()),
            b64_encode(&vec![7; signature_len])
        )
    }

    fn code(value: &str) -> &'static str {
        match Proof::parse(value) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn a_registration_proof_read() {
        let header = format!(r#"{{"alg":"ES256","typ":"dbsc+jwt","jwk":{}}}"#, ec_jwk());
        let token = jwt(
            &header,
            r#"{"jti":"cv","authorization":"ac","aud":"x"}"#,
            64,
        );
        let proof = Proof::parse(&token).unwrap();
        assert_eq!(proof.alg(), Alg::ES256);
        assert_eq!(proof.jti(), "cv");
        assert_eq!(proof.authorization(), Some("ac"));
        assert_eq!(
            proof.jwk().unwrap().to_jwk_json(),
            DeviceKey::from_jwk_json(&ec_jwk()).unwrap().to_jwk_json()
        );
        assert_eq!(proof.signature(), &[7; 64]);
        let (input, _) = token.rsplit_once('.').unwrap();
        assert_eq!(proof.signing_input(), input.as_bytes());
        // As a structured-field string, with or without parameters and spaces around it.
        for value in [format!("\"{token}\""), format!(" \"{token}\";a=1 ")] {
            assert_eq!(Proof::parse(&value).unwrap(), proof);
        }
    }

    #[test]
    fn a_refresh_proof_read() {
        let proof = Proof::parse(&jwt(
            r#"{"alg":"RS256","typ":"dbsc+jwt"}"#,
            r#"{"jti":"c"}"#,
            384,
        ))
        .unwrap();
        assert_eq!(
            (proof.alg(), proof.jti(), proof.authorization()),
            (Alg::RS256, "c", None)
        );
        assert!(proof.jwk().is_none());
        assert_eq!(proof.signature().len(), 384);
    }

    /// The sender's alg is named bounded and ASCII only, as a JWT's is.
    #[test]
    fn an_unsupported_alg_is_named_within_bounds() {
        let header = format!(r#"{{"alg":"\u202e{}","typ":"dbsc+jwt"}}"#, "x".repeat(2000));
        assert_eq!(
            Proof::parse(&jwt(&header, r#"{"jti":"c"}"#, 64)).unwrap_err(),
            Error::UnsupportedAlg(format!("\u{fffd}\u{fffd}\u{fffd}{}...", "x".repeat(61)))
        );
    }

    #[test]
    fn every_refusal_with_its_code() {
        let es = r#"{"alg":"ES256","typ":"dbsc+jwt"}"#;
        let claims = r#"{"jti":"c"}"#;
        let rsa_jwk = format!(
            r#"{{"kty":"RSA","n":"{}","e":"AQAB"}}"#,
            crate::dbsc::key::tests::RFC7638_N
        );
        let cases: Vec<(String, &str)> = vec![
            (jwt(es, claims, 64), "ok"),
            ("x".repeat(MAX_PROOF_BYTES + 1), "too_large"),
            (
                format!("\"{}\"", jwt(es, claims, 64)).replace("\"e", "\"\\e"),
                "malformed",
            ),
            (format!("\"{}", jwt(es, claims, 64)), "malformed"),
            (format!("\"{}\"x", jwt(es, claims, 64)), "malformed"),
            ("a.b".into(), "malformed"),
            (format!("{}.x", jwt(es, claims, 64)), "malformed"),
            (format!("{}=", jwt(es, claims, 64)), "malformed"),
            (
                jwt(r#"{"alg":"none","typ":"dbsc+jwt"}"#, claims, 0),
                "unsupported_alg",
            ),
            (
                jwt(r#"{"alg":"HS256","typ":"dbsc+jwt"}"#, claims, 32),
                "unsupported_alg",
            ),
            (
                jwt(r#"{"alg":"es256","typ":"dbsc+jwt"}"#, claims, 64),
                "unsupported_alg",
            ),
            (
                jwt(r#"{"alg":"EdDSA","typ":"dbsc+jwt"}"#, claims, 64),
                "unsupported_alg",
            ),
            (jwt(r#"{"typ":"dbsc+jwt"}"#, claims, 64), "malformed"),
            (
                jwt(r#"{"alg":1,"typ":"dbsc+jwt"}"#, claims, 64),
                "malformed",
            ),
            (jwt(r#"{"alg":"ES256"}"#, claims, 64), "malformed"),
            (
                jwt(r#"{"alg":"ES256","typ":"JWT"}"#, claims, 64),
                "malformed",
            ),
            (
                jwt(r#"{"alg":"ES256","typ":"DBSC+JWT"}"#, claims, 64),
                "malformed",
            ),
            (
                jwt(
                    r#"{"alg":"ES256","typ":"dbsc+jwt","typ":"dbsc+jwt"}"#,
                    claims,
                    64,
                ),
                "malformed",
            ),
            (
                jwt(
                    r#"{"alg":"ES256","alg":"none","typ":"dbsc+jwt"}"#,
                    claims,
                    64,
                ),
                "malformed",
            ),
            (
                jwt(
                    r#"{"alg":"ES256","typ":"dbsc+jwt","crit":["x"]}"#,
                    claims,
                    64,
                ),
                "malformed",
            ),
            (jwt(r#"["ES256"]"#, claims, 64), "malformed"),
            (
                jwt(
                    &format!(r#"{{"alg":"ES256","typ":"dbsc+jwt","jwk":{rsa_jwk}}}"#),
                    claims,
                    64,
                ),
                "malformed",
            ),
            (
                jwt(
                    &format!(r#"{{"alg":"RS256","typ":"dbsc+jwt","jwk":{}}}"#, ec_jwk()),
                    claims,
                    256,
                ),
                "malformed",
            ),
            // A jwk of the other alg, with a signature of its own length: refused for the alg.
            (
                jwt(
                    &format!(r#"{{"alg":"ES256","typ":"dbsc+jwt","jwk":{rsa_jwk}}}"#),
                    claims,
                    256,
                ),
                "malformed",
            ),
            (
                jwt(
                    &format!(r#"{{"alg":"RS256","typ":"dbsc+jwt","jwk":{}}}"#, ec_jwk()),
                    claims,
                    64,
                ),
                "malformed",
            ),
            (
                jwt(
                    &format!(r#"{{"alg":"RS256","typ":"dbsc+jwt","jwk":{rsa_jwk}}}"#),
                    claims,
                    256,
                ),
                "ok",
            ),
            (
                jwt(
                    &format!(r#"{{"alg":"RS256","typ":"dbsc+jwt","jwk":{rsa_jwk}}}"#),
                    claims,
                    257,
                ),
                "malformed",
            ),
            (
                jwt(
                    r#"{"alg":"ES256","typ":"dbsc+jwt","jwk":{"kty":"EC"}}"#,
                    claims,
                    64,
                ),
                "malformed",
            ),
            (
                jwt(r#"{"alg":"ES256","typ":"dbsc+jwt","jwk":"x"}"#, claims, 64),
                "malformed",
            ),
            (jwt(es, "{}", 64), "malformed"),
            (jwt(es, r#"{"jti":1}"#, 64), "malformed"),
            (jwt(es, r#"{"jti":"a","jti":"b"}"#, 64), "malformed"),
            (
                jwt(es, r#"{"jti":"a","authorization":null}"#, 64),
                "malformed",
            ),
            (jwt(es, r#"["jti"]"#, 64), "malformed"),
            (jwt(es, claims, 63), "malformed"),
            (jwt(es, claims, 65), "malformed"),
            (
                jwt(r#"{"alg":"RS256","typ":"dbsc+jwt"}"#, claims, 255),
                "malformed",
            ),
            (
                jwt(r#"{"alg":"RS256","typ":"dbsc+jwt"}"#, claims, 513),
                "malformed",
            ),
            (
                jwt(r#"{"alg":"RS256","typ":"dbsc+jwt"}"#, claims, 512),
                "ok",
            ),
        ];
        for (token, expected) in &cases {
            assert_eq!(code(token), *expected, "{token}");
        }
        // Bytes that are not UTF-8 in the header and in the payload.
        let sig = b64_encode(&[0; 64]);
        assert_eq!(code(&format!("_w.e30.{sig}")), "malformed");
        assert_eq!(
            code(&format!("{}._w.{sig}", b64_encode(es.as_bytes()))),
            "malformed"
        );
    }

    #[test]
    fn any_changed_character_is_refused_or_changes_what_is_read() {
        let header = format!(r#"{{"alg":"ES256","typ":"dbsc+jwt","jwk":{}}}"#, ec_jwk());
        let token = jwt(&header, r#"{"jti":"challenge"}"#, 64);
        let original = Proof::parse(&token).unwrap();
        for i in 0..token.len() {
            for c in ['A', '_', '.', '=', ' '] {
                let mut bytes = token.clone().into_bytes();
                if bytes[i] == c as u8 {
                    continue;
                }
                bytes[i] = c as u8;
                let changed = String::from_utf8(bytes).unwrap();
                if let Ok(proof) = Proof::parse(&changed) {
                    // Then the signed bytes or the signature differ: WebCrypto refuses it.
                    assert!(
                        proof.signing_input() != original.signing_input()
                            || proof.signature() != original.signature(),
                        "{changed}"
                    );
                }
            }
        }
    }
}
