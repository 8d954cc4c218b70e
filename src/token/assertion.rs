//! Signed identity assertions for origins: a JWT the gateway (or a JavaScript worker that
//! proxies itself) sends with every forwarded request in `x-session-assertion`, so an origin
//! can verify who the user is, and that the request came through the gateway, instead of
//! trusting plain headers. The pure part: keys, claims, the JWS signing input, the JWKS, and
//! the reuse policy. The signature itself is WebCrypto's (Ed25519 or ECDSA P-256), in the faces.
//!
//! - **Keys** ([`AssertionKey`]): derived from every key of the session keyring with HKDF for
//!   this purpose alone (so a key rotation publishes the old and the new public key, and the
//!   first key signs), or one explicit private JWK. Each gives WebCrypto a PKCS#8 private key
//!   ([`AssertionKey::pkcs8`]); the public key is what WebCrypto exports from it
//!   ([`PublicJwk::from_exported`] keeps only the public members).
//! - **Claims** ([`AssertionClaims`]): `iss` (the gateway's public origin), `aud` (the origin
//!   the request goes to), `iat`, `exp` (at most [`MAX_LIFETIME_SECONDS`] later), `status`
//!   (`none`, `valid`, `expired`, `invalid`, `revoked` or, with DBSC, `unbound`: as the gateway's
//!   `x-session-status`) and, for a valid session, its claims
//!   (`sub`, `sid` and the others), without the session token's own registered times.
//! - **Reuse** ([`AssertionCache`]): an assertion is signed again only when the one made for the
//!   same claims and origin has used half its life, so a busy origin sees one signature per
//!   session every few minutes, not one per request.

use std::fmt;

use crate::codec::{b64_decode, b64_encode};
use crate::error::{Error, Result};
use crate::json::{self, Object};
use crate::jws;
use crate::keys::KeyRing;
use crate::time::{self, UnixTime};

/// The request header that carries the assertion to the origin.
pub const HEADER: &str = "x-session-assertion";

/// Where the public keys are published, on the gateway's own host.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The claim binding the session data an origin gets (`x-session-data`) to the assertion: the
/// data's SHA-256, base64url ([`data_sha256`]). Only the signer says it: a session claim of
/// this name is never carried.
pub const DATA_CLAIM: &str = "data_sha256";

/// The value of [`DATA_CLAIM`] for `data`.
pub fn data_sha256(data: &str) -> String {
    b64_encode(&crate::keys::sha256(data.as_bytes()))
}

/// Whether verified assertion claims (JSON) vouch for `data`, the session data that came with
/// the assertion: their [`DATA_CLAIM`] is its digest (`bad_signature` otherwise, also when they
/// carry none: the signer sends no data without it).
pub fn check_data(claims: &str, data: &str) -> Result<()> {
    let members = json::members(claims).map_err(|e| Error::Malformed(e.message("claims")))?;
    // Both sides are public (the digest is in the assertion): no need for a constant time.
    match json::get(&members, DATA_CLAIM).and_then(json::string) {
        Some(signed) if signed == data_sha256(data) => Ok(()),
        _ => Err(Error::BadSignature),
    }
}

/// The longest life of an assertion, seconds (and the default): five minutes.
pub const MAX_LIFETIME_SECONDS: u64 = 300;

/// How long the JWKS may be cached by origins and proxies, seconds. Verifiers fetch again on
/// an unknown `kid`, but a cache honouring this keeps the old set that long: a new key signs
/// without a refusal only when it was published (second in the list) this long before it is
/// put first (docs/gateway.md says so).
pub const JWKS_MAX_AGE_SECONDS: u64 = 300;

/// Purpose strings of the HKDF subkeys (see [`crate::keys`]): one per algorithm, so the two
/// never share a private key.
const PURPOSE_EDDSA: &str = "origin-assertion/EdDSA";
const PURPOSE_ES256: &str = "origin-assertion/ES256";
/// And the one of the tag that ends a derived key's `kid` (its first 6 bytes, base64url).
const PURPOSE_KID: &str = "origin-assertion/kid";

/// The order of the P-256 group, big-endian: a private scalar lies in `1..N`.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// PKCS#8 (RFC 5208, RFC 8410) of an Ed25519 private key, before its 32-byte seed.
const PKCS8_ED25519: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// PKCS#8 of a P-256 private key (RFC 5915 `ECPrivateKey` without its optional public key,
/// which WebCrypto computes), before its 32-byte scalar.
const PKCS8_P256: [u8; 36] = [
    0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25, 0x02, 0x01,
    0x01, 0x04, 0x20, 0x00,
];

/// The signature algorithm of assertions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// Ed25519 (RFC 8037), WebCrypto `Ed25519`.
    EdDSA,
    /// ECDSA P-256 with SHA-256 (RFC 7518), WebCrypto `ECDSA` on `P-256`.
    ES256,
}

impl Alg {
    /// `EdDSA` or `ES256` (the JOSE names), else `None`.
    ///
    /// ```
    /// use edge_session::token::assertion::Alg;
    /// assert_eq!(Alg::parse("ES256"), Some(Alg::ES256));
    /// assert_eq!(Alg::parse("HS256"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Alg> {
        match text {
            "EdDSA" => Some(Alg::EdDSA),
            "ES256" => Some(Alg::ES256),
            _ => None,
        }
    }

    /// The JOSE name: `EdDSA` or `ES256`.
    pub fn name(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::ES256 => "ES256",
        }
    }

    /// The JWK curve: `Ed25519` or `P-256`.
    pub fn curve(self) -> &'static str {
        match self {
            Alg::EdDSA => "Ed25519",
            Alg::ES256 => "P-256",
        }
    }

    /// The JWK key type: `OKP` or `EC`.
    pub fn key_type(self) -> &'static str {
        match self {
            Alg::EdDSA => "OKP",
            Alg::ES256 => "EC",
        }
    }

    /// The length of a signature, bytes (ES256: `r || s`, as WebCrypto gives it and JWS wants).
    pub fn signature_len(self) -> usize {
        64
    }
}

/// A private key of assertions: its `kid`, its algorithm and its 32 private bytes (the Ed25519
/// seed or the P-256 scalar). `Debug` never shows the bytes.
#[derive(Clone)]
pub struct AssertionKey {
    kid: String,
    alg: Alg,
    private: [u8; 32],
}

impl fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl AssertionKey {
    /// One key per key of `ring`, in the ring's order (the first signs), its `kid` the id of
    /// the secret it comes from, the algorithm and a tag of the secret (`k1-EdDSA-Ab3_x9Qz`,
    /// `k1-ES256-Ab3_x9Qz`; the tag 6 bytes of HKDF of the secret with a purpose of its own,
    /// which tell nothing of it). A `kid` names one key: a verifier still holding the JWKS of
    /// the other algorithm, or of a secret since replaced under the same id, fetches it again
    /// on the unknown `kid`, rather than refuse every assertion with the key it holds until its
    /// cache ends (jose's after 10 minutes). The key: HKDF-SHA256 of the secret with a purpose
    /// of its own per algorithm. For ES256, the first HKDF output that is a valid scalar (`1..N`; another
    /// output is tried, with a counter in the purpose, in the 1 in 2^32 case it is not).
    pub fn derive_all(ring: &KeyRing, alg: Alg) -> Vec<AssertionKey> {
        ring.iter()
            .map(|(kid, secret)| {
                let private = match alg {
                    Alg::EdDSA => secret.derive(PURPOSE_EDDSA),
                    Alg::ES256 => {
                        let mut d = secret.derive(PURPOSE_ES256);
                        let mut counter = 1u32;
                        while !valid_p256_scalar(&d) {
                            d = secret.derive(&format!("{PURPOSE_ES256}/{counter}"));
                            counter = counter.wrapping_add(1);
                        }
                        d
                    }
                };
                let tag = secret.derive(PURPOSE_KID);
                let tag = crate::codec::b64_encode(tag.get(..6).unwrap_or_default());
                AssertionKey {
                    kid: format!("{kid}-{}-{tag}", alg.name()),
                    alg,
                    private,
                }
            })
            .collect()
    }

    /// An explicit key: a private JWK with a `kid`, of the algorithm's key type and curve
    /// (`{"kty":"OKP","crv":"Ed25519","d":"…","kid":"…"}` or `{"kty":"EC","crv":"P-256",
    /// "d":"…","kid":"…"}`; the public members, if present, are not used: the public key is
    /// computed from `d`). Refused with `invalid_config` naming `setting`; the message never
    /// quotes `d`.
    pub fn from_jwk(text: &str, alg: Alg, setting: &'static str) -> Result<AssertionKey> {
        let bad = |why: &str| Error::config_of(setting, format!("{setting}: {why}"));
        let members = json::members(text).map_err(|_| bad("not a JSON object (a private JWK)"))?;
        let text_of = |name: &str| json::get(&members, name).and_then(json::string);
        if text_of("kty").as_deref() != Some(alg.key_type())
            || text_of("crv").as_deref() != Some(alg.curve())
        {
            return Err(bad(&format!(
                "ORIGIN_ASSERTION = {} needs a JWK with \"kty\":\"{}\" and \"crv\":\"{}\"",
                alg.name(),
                alg.key_type(),
                alg.curve()
            )));
        }
        let kid = text_of("kid")
            .filter(|k| crate::keys::valid_key_id(k))
            .ok_or_else(|| bad("needs a \"kid\" of 1 to 64 characters A-Z a-z 0-9 . _ -"))?;
        let d = text_of("d").ok_or_else(|| bad("needs the private member \"d\""))?;
        // The kid is published (the JWKS, every assertion's header): never the private key.
        if kid == d {
            return Err(bad("the \"kid\" is the private key \"d\": a kid is public"));
        }
        // Decoded in constant time, as secrets are.
        let private: [u8; 32] = crate::keys::decode_ct(&d, crate::keys::URL_ALPHABET)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| bad("\"d\" must be 32 bytes of base64url"))?;
        if alg == Alg::ES256 && !valid_p256_scalar(&private) {
            return Err(bad("\"d\" is not a valid P-256 private key"));
        }
        Ok(AssertionKey {
            kid: kid.into_owned(),
            alg,
            private,
        })
    }

    /// The private key's 32 bytes (for the gateway's configuration: no id may be one).
    #[cfg(feature = "sealed")]
    pub(crate) fn private_bytes(&self) -> &[u8; 32] {
        &self.private
    }

    /// The key id, sent as the JWS header's `kid` and published with the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The private key as PKCS#8 DER, for WebCrypto's `importKey("pkcs8", …)`.
    pub fn pkcs8(&self) -> Vec<u8> {
        let prefix: &[u8] = match self.alg {
            Alg::EdDSA => &PKCS8_ED25519,
            Alg::ES256 => PKCS8_P256.split_last().map_or(&[], |(_, head)| head),
        };
        let mut out = Vec::with_capacity(prefix.len() + 32);
        out.extend_from_slice(prefix);
        out.extend_from_slice(&self.private);
        out
    }
}

/// `keys` when no two share a `kid`, else `invalid_config` naming `setting` and the two
/// positions: the JWKS publishes every key under its `kid`, and a verifier that takes the first
/// key of a `kid` (PyJWT, [`UntrustedAssertion`]'s users) would refuse what another one signed.
#[cfg_attr(not(feature = "sealed"), allow(dead_code))]
pub(crate) fn distinct_kids(
    keys: Vec<AssertionKey>,
    setting: &'static str,
) -> Result<Vec<AssertionKey>> {
    for (i, key) in keys.iter().enumerate() {
        if let Some(j) = keys.iter().take(i).position(|k| k.kid == key.kid) {
            return Err(Error::config_of(
                setting,
                format!("{setting}: key {i} has the same kid as key {j}"),
            ));
        }
    }
    Ok(keys)
}

/// Whether `d` (big-endian) lies in `1..N` of P-256.
fn valid_p256_scalar(d: &[u8; 32]) -> bool {
    d.iter().any(|&b| b != 0) && d.as_slice() < P256_ORDER.as_slice()
}

/// A public key as published: its `kid`, algorithm and public coordinates. It has no place for
/// a private member, so none can be published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicJwk {
    kid: String,
    alg: Alg,
    x: String,
    y: Option<String>,
}

impl PublicJwk {
    /// The public part of the JWK that WebCrypto exported for `key` (`exportKey("jwk", …)` of
    /// the private key imported from [`AssertionKey::pkcs8`]): `crv`, `x` and, for P-256, `y`,
    /// each checked (32 bytes of base64url); every other member, `d` included, is left behind.
    pub fn from_exported(key: &AssertionKey, exported: &str) -> Result<PublicJwk> {
        const WHAT: &str = "exported JWK";
        let members = json::members(exported).map_err(|_| Error::Malformed(WHAT))?;
        let text_of = |name: &str| json::get(&members, name).and_then(json::string);
        let coordinate = |name: &str| {
            text_of(name)
                .filter(|c| b64_decode(c).is_ok_and(|b| b.len() == 32))
                .map(|c| c.into_owned())
                .ok_or(Error::Malformed(WHAT))
        };
        if text_of("crv").as_deref() != Some(key.alg.curve()) {
            return Err(Error::Malformed(WHAT));
        }
        Ok(PublicJwk {
            kid: key.kid.clone(),
            alg: key.alg,
            x: coordinate("x")?,
            y: match key.alg {
                Alg::EdDSA => None,
                Alg::ES256 => Some(coordinate("y")?),
            },
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The JWK (RFC 7517) as JSON: `kty`, `crv`, `x` (and `y`), `kid`, `alg`, `use: "sig"`.
    pub fn to_json(&self) -> String {
        let mut o = Object::empty();
        o.insert("kty", json::quoted(self.alg.key_type()));
        o.insert("crv", json::quoted(self.alg.curve()));
        o.insert("x", json::quoted(&self.x));
        if let Some(y) = &self.y {
            o.insert("y", json::quoted(y));
        }
        o.insert("kid", json::quoted(&self.kid));
        o.insert("alg", json::quoted(self.alg.name()));
        o.insert("use", json::quoted("sig"));
        o.to_json()
    }
}

/// The JWK Set (RFC 7517 section 5) of `keys`: `{"keys":[…]}`.
pub fn jwks(keys: &[PublicJwk]) -> String {
    let list: Vec<String> = keys.iter().map(PublicJwk::to_json).collect();
    format!("{{\"keys\":[{}]}}", list.join(","))
}

/// The `Cache-Control` of the JWKS.
pub fn jwks_cache_control() -> String {
    format!("public, max-age={JWKS_MAX_AGE_SECONDS}")
}

/// Registered claims the assertion sets itself: a session token's own are left out.
const OWN_CLAIMS: [&str; 7] = ["iss", "aud", "iat", "exp", "nbf", "jti", "status"];

/// What an assertion says, before its times: who made it, for whom, and about which session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionClaims {
    /// The claims without `iat` and `exp`, as JSON (sorted members): also the reuse key.
    identity: String,
}

impl AssertionClaims {
    /// The claims of an assertion from `iss` for `aud` about a session of `status`; with a
    /// valid session, `session_claims` are its verified claims as JSON (`sub`, `sid` and the
    /// others; the token's `iss`, `aud`, `iat`, `exp`, `nbf`, `jti` are not carried over).
    /// `extra` are more members the caller vouches for (name, JSON text), for example
    /// `revocation: "unchecked"`. A `session_claims` that is not a JSON object is left out.
    pub fn new(
        iss: &str,
        aud: &str,
        status: &str,
        session_claims: Option<&str>,
        extra: &[(&str, String)],
    ) -> Self {
        Self::vouching(iss, aud, status, session_claims, extra, &[])
    }

    /// [`AssertionClaims::new`] for a caller that alone says the members named `vouched`
    /// (the gateway's `revocation` and `bound`): a session claim of one of those names is left
    /// out, whether or not `extra` has that member this time.
    pub(crate) fn vouching(
        iss: &str,
        aud: &str,
        status: &str,
        session_claims: Option<&str>,
        extra: &[(&str, String)],
        vouched: &[&str],
    ) -> Self {
        let mut o = session_claims
            .and_then(|c| Object::parse(c).ok())
            .unwrap_or_else(Object::empty);
        for name in OWN_CLAIMS.iter().chain(vouched) {
            o.remove(name);
        }
        for (name, value) in extra {
            if !OWN_CLAIMS.contains(name) {
                o.insert(name, value.clone());
            }
        }
        o.insert("iss", json::quoted(iss));
        o.insert("aud", json::quoted(aud));
        o.insert("status", json::quoted(status));
        AssertionClaims {
            identity: o.to_json(),
        }
    }

    /// The claims as JSON, without times.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The JWS signing input (`base64url(header) "." base64url(payload)`) of these claims
    /// issued at `now` for `lifetime` seconds (at most [`MAX_LIFETIME_SECONDS`]), signed by
    /// `key`, and its `exp`.
    pub fn signing_input(&self, key: &AssertionKey, now: UnixTime, lifetime: u64) -> Signing {
        let exp = now.saturating_add(lifetime.min(MAX_LIFETIME_SECONDS));
        let header = format!(
            "{{\"alg\":{},\"kid\":{},\"typ\":\"JWT\"}}",
            json::quoted(key.alg.name()),
            json::quoted(&key.kid)
        );
        let mut payload = Object::parse(&self.identity).unwrap_or_else(|_| Object::empty());
        payload.insert("iat", json::number(now));
        payload.insert("exp", json::number(exp));
        let input = format!(
            "{}.{}",
            b64_encode(header.as_bytes()),
            b64_encode(payload.to_json().as_bytes())
        );
        Signing {
            input,
            iat: now,
            exp,
        }
    }
}

/// A JWS signing input and the times it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signing {
    /// `base64url(header) "." base64url(payload)`: the bytes to sign.
    pub input: String,
    /// Its `iat`.
    pub iat: UnixTime,
    /// Its `exp`.
    pub exp: UnixTime,
}

impl Signing {
    /// The compact JWS: the input, `.`, the signature in base64url.
    pub fn finish(&self, signature: &[u8]) -> String {
        format!("{}.{}", self.input, b64_encode(signature))
    }
}

/// An assertion read but not verified: nothing in it is trusted until
/// [`UntrustedAssertion::verify_with`] checks its signature (with the verifier given: WebCrypto
/// in the JS face) and then its claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntrustedAssertion<'a> {
    kid: String,
    alg: Alg,
    input: &'a str,
    signature: Vec<u8>,
    payload: String,
}

/// The longest assertion read (8 KB, what nginx takes in a header line by default), and so the
/// longest one the JS face signs.
pub const MAX_BYTES: usize = 8192;

impl<'a> UntrustedAssertion<'a> {
    /// Reads a compact JWS of at most [`MAX_BYTES`]: three base64url parts, a header naming `EdDSA` or
    /// `ES256` (`unsupported_alg` for any other, `none` included) and a `kid`, without `crit`
    /// (`malformed`), a signature of
    /// 64 bytes and a payload that is one JSON object.
    pub fn parse(token: &'a str) -> Result<Self> {
        let malformed = |what| Error::Malformed(what);
        let jws::Segments {
            header,
            payload,
            signature,
            input,
        } = jws::split(token, MAX_BYTES)?;
        let header = jws::json_text(header, "header is not UTF-8")?;
        let members = json::members(&header).map_err(|e| malformed(e.message("header")))?;
        let text_of = |name: &str| json::get(&members, name).and_then(json::string);
        let alg_text = text_of("alg").ok_or(malformed("no alg"))?;
        let alg = Alg::parse(&alg_text).ok_or_else(|| Error::unsupported_alg(&alg_text))?;
        let kid = text_of("kid").ok_or(malformed("no kid"))?.into_owned();
        // RFC 7515 4.1.11: an extension the signer marks critical must be understood; none is.
        if json::get(&members, "crit").is_some() {
            return Err(malformed("no crit header extension is supported"));
        }
        let signature = b64_decode(signature)?;
        if signature.len() != alg.signature_len() {
            return Err(Error::BadSignature);
        }
        let payload = jws::json_text(payload, "claims are not UTF-8")?;
        json::members(&payload).map_err(|e| malformed(e.message("claims")))?;
        Ok(UntrustedAssertion {
            kid,
            alg,
            input,
            signature,
            payload,
        })
    }

    /// The key id the header names.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm the header names (`EdDSA` or `ES256`).
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The bytes the signature covers.
    pub fn signing_input(&self) -> &str {
        self.input
    }

    /// The signature (64 bytes).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The claims as JSON, once `signature_ok` says that [`signature`](Self::signature) is the
    /// signature of [`signing_input`](Self::signing_input) by the public key of
    /// [`kid`](Self::kid) (from the gateway's JWKS), for [`alg`](Self::alg) (`bad_signature`
    /// otherwise: this crate has no EdDSA or ES256 verifier of its own; the JS face uses
    /// WebCrypto's, a Rust origin one of its own, or a JWT library with the JWKS); and when
    /// `iss` is `issuer` (`wrong_issuer`), `aud` is or holds `audience` (`wrong_audience`),
    /// `exp` is present and not past (`expired`, with the claims), `iat` present and not in
    /// the future (`not_yet_valid`), both within `leeway` seconds of `now`: at most a day
    /// (86400), as every leeway of this crate (`invalid_config` otherwise: milliseconds taken
    /// for seconds would accept assertions that expired years ago; so is a `now` past 10^11,
    /// milliseconds).
    ///
    /// ```
    /// use edge_session::token::assertion::UntrustedAssertion;
    /// // Signed by nobody: 64 zero bytes in place of the signature.
    /// let token = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJhdWQiOiJodHRwczovL29yaWdpbi5leGFtcGxlIiwiZXhwIjoxODAwMDAwMzAwLCJpYXQiOjE4MDAwMDAwMDAsImlzcyI6Imh0dHBzOi8vYXBwLmV4YW1wbGUiLCJzdWIiOiJhbGljZSJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    /// let assertion = UntrustedAssertion::parse(token)?;
    /// assert_eq!((assertion.kid(), assertion.alg().name()), ("k1", "EdDSA"));
    /// // Your verifier: e.g. ed25519-dalek's, with the JWKS key of that kid.
    /// let ed25519_verify = |_input: &[u8], _signature: &[u8]| false;
    /// let claims = assertion.verify_with(
    ///     |a| ed25519_verify(a.signing_input().as_bytes(), a.signature()),
    ///     "https://app.example",
    ///     "https://origin.example",
    ///     1_800_000_100,
    ///     30,
    /// );
    /// assert_eq!(claims.unwrap_err().code(), "bad_signature");
    /// # Ok::<(), edge_session::Error>(())
    /// ```
    pub fn verify_with(
        self,
        signature_ok: impl FnOnce(&Self) -> bool,
        issuer: &str,
        audience: &str,
        now: UnixTime,
        leeway: u64,
    ) -> Result<String> {
        time::check_now(now)?;
        time::check_leeway(leeway)?;
        if !signature_ok(&self) {
            return Err(Error::BadSignature);
        }
        let members =
            json::members(&self.payload).map_err(|e| Error::Malformed(e.message("claims")))?;
        // Rounded up: a fractional time compared with the whole seconds of `now` as it is.
        let time = |name| json::get(&members, name).and_then(json::ceil_u64);
        let exp = time("exp").ok_or(Error::Malformed("no exp"))?;
        let iat = time("iat").ok_or(Error::Malformed("no iat"))?;
        if json::get(&members, "iss").and_then(json::string).as_deref() != Some(issuer) {
            return Err(Error::WrongIssuer);
        }
        let aud = json::get(&members, "aud");
        let for_us = aud.and_then(json::string).as_deref() == Some(audience)
            || aud
                .and_then(json::strings)
                .is_some_and(|list| list.iter().any(|a| a == audience));
        if !for_us {
            return Err(Error::WrongAudience);
        }
        match time::check(now, leeway, Some(exp), &[Some(iat)]) {
            Ok(()) => Ok(self.payload),
            Err(outside) => Err(outside.error(self.payload)),
        }
    }
}

/// The most assertions one worker instance keeps for reuse.
pub const CACHE_ENTRIES: usize = 512;

/// The largest assertion kept for reuse, in bytes (its token and its claims as the cache's key):
/// one over it is signed anew each time. So the cache holds at most [`CACHE_ENTRIES`] times this,
/// 8 MiB, whatever the claims: 512 assertions of claims of 100 KB (a worker's `sign` is given any
/// claims) held over 100 MB of the instance's 128 MB, in wasm memory that never shrinks.
pub const CACHE_ENTRY_MAX_BYTES: usize = 16_384;

#[derive(Clone)]
struct Cached {
    /// FNV-1a of `key`, compared first.
    hash: u64,
    key: String,
    token: String,
    iat: UnixTime,
    exp: UnixTime,
}

impl Cached {
    /// More than half its life left at `now` (and not issued in the future: a clock going back).
    fn reusable(&self, now: UnixTime) -> bool {
        let half = self.exp.saturating_sub(self.iat) / 2;
        now >= self.iat && now < self.iat.saturating_add(half)
    }
}

/// FNV-1a, 64 bits: a cheap first comparison of cache keys (not a defence: keys are compared
/// in full after it).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Assertions kept for reuse, by key id and claims (the origin, `aud`, is among them), at most
/// [`CACHE_ENTRIES`]. An assertion is reused while it has more than half its life left, so
/// what an origin receives is always valid for at least half the lifetime (150 s by default).
// A plain list (a hash compared first) rather than a `HashMap`: a few hundred entries, and
// 2 KB less gzipped wasm in the gateway.
#[derive(Default)]
pub struct AssertionCache {
    entries: Vec<Cached>,
    capacity: usize,
}

/// How many assertions are kept, not which: each is a bearer token that its origin accepts for
/// minutes, kept under the session's claims.
impl fmt::Debug for AssertionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionCache")
            .field("len", &self.entries.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl AssertionCache {
    /// An empty cache of at most `capacity` assertions (0: nothing is kept).
    pub fn new(capacity: usize) -> Self {
        AssertionCache {
            entries: Vec::new(),
            capacity,
        }
    }

    fn key(kid: &str, claims: &AssertionClaims) -> String {
        format!("{kid}\n{}", claims.identity)
    }

    fn find(&self, key: &str, hash: u64) -> Option<usize> {
        self.entries
            .iter()
            .position(|c| c.hash == hash && c.key == key)
    }

    /// The assertion of `claims` signed by `kid`, if one was kept that still has more than half
    /// its life left at `now` (and was not issued in the future: a clock going back).
    pub fn get(&self, kid: &str, claims: &AssertionClaims, now: UnixTime) -> Option<&str> {
        let key = Self::key(kid, claims);
        let c = self.entries.get(self.find(&key, fnv1a(key.as_bytes()))?)?;
        c.reusable(now).then_some(c.token.as_str())
    }

    /// Keeps `token`, the assertion of `claims` signed by `kid` per `signing`, unless the two are
    /// over [`CACHE_ENTRY_MAX_BYTES`]. When full, the assertions no longer reusable at `now` go
    /// first, then the oldest.
    pub fn put(
        &mut self,
        kid: &str,
        claims: &AssertionClaims,
        signing: &Signing,
        token: String,
        now: UnixTime,
    ) {
        let key = Self::key(kid, claims);
        if self.capacity == 0 || key.len() + token.len() > CACHE_ENTRY_MAX_BYTES {
            return;
        }
        let hash = fnv1a(key.as_bytes());
        let entry = Cached {
            hash,
            key,
            token,
            iat: signing.iat,
            exp: signing.exp,
        };
        if let Some(i) = self.find(&entry.key, hash) {
            if let Some(slot) = self.entries.get_mut(i) {
                *slot = entry;
            }
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.retain(|c| c.reusable(now));
            while self.entries.len() >= self.capacity {
                let oldest = self
                    .entries
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, c)| c.iat)
                    .map(|(i, _)| i);
                match oldest {
                    Some(i) => {
                        self.entries.swap_remove(i);
                    }
                    None => break,
                }
            }
        }
        self.entries.push(entry);
    }

    /// How many assertions are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Secret;

    fn ring() -> KeyRing {
        KeyRing::new(vec![
            ("k2".into(), Secret::new(vec![2; 32]).unwrap()),
            ("k1".into(), Secret::new(vec![1; 32]).unwrap()),
        ])
        .unwrap()
    }

    fn payload(token: &str) -> String {
        let part = token.split('.').nth(1).unwrap();
        String::from_utf8(b64_decode(part).unwrap()).unwrap()
    }

    #[test]
    fn one_key_per_ring_key_with_its_kid_distinct_per_alg() {
        let ed = AssertionKey::derive_all(&ring(), Alg::EdDSA);
        let es = AssertionKey::derive_all(&ring(), Alg::ES256);
        // The ring's key id, the algorithm and a tag of the secret: a `kid` never names two
        // keys, not across a switch of ORIGIN_ASSERTION nor a secret replaced under its id (a
        // verifier that holds the JWKS of the other algorithm, or the old secret's, fetches
        // again on the unknown `kid` instead of trying the key it holds).
        assert_eq!(
            ed.iter().map(|k| k.kid()).collect::<Vec<_>>(),
            ["k2-EdDSA-1IyusSDr", "k1-EdDSA-TaOamQgZ"]
        );
        assert_eq!(
            es.iter().map(|k| k.kid()).collect::<Vec<_>>(),
            ["k2-ES256-1IyusSDr", "k1-ES256-TaOamQgZ"]
        );
        assert_ne!(ed[0].private, ed[1].private);
        assert_ne!(ed[0].private, es[0].private);
        // Not the secret, not another purpose's subkey.
        assert_ne!(ed[0].private, [2; 32]);
        // A secret replaced under the same id: another kid.
        let replaced = KeyRing::new(vec![("k2".into(), Secret::new(vec![3; 32]).unwrap())]);
        let replaced = AssertionKey::derive_all(&replaced.unwrap(), Alg::EdDSA);
        assert!(replaced[0].kid().starts_with("k2-EdDSA-") && replaced[0].kid() != ed[0].kid());
        let (_, s) = ring()
            .iter()
            .next()
            .map(|(k, s)| (k.to_owned(), s.clone()))
            .unwrap();
        assert_ne!(ed[0].private, s.derive("session"));
        // Deterministic: the same ring gives the same keys.
        assert_eq!(
            AssertionKey::derive_all(&ring(), Alg::ES256)[1].private,
            es[1].private
        );
        assert!(es.iter().all(|k| valid_p256_scalar(&k.private)));
        assert!(!format!("{:?}", ed[0]).contains(&format!("{:?}", ed[0].private)));
    }

    #[test]
    fn known_answers_of_tests_vectors_assertion_json() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/assertion.json")).unwrap();
        let configs: Vec<crate::keys::KeyConfig> = v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| crate::keys::KeyConfig {
                id: k["id"].as_str().unwrap().into(),
                secret: k["secret"].as_str().unwrap().into(),
            })
            .collect();
        let ring = KeyRing::from_config(&configs).unwrap();
        let derived = v["derived"].as_array().unwrap();
        assert_eq!(derived.len(), 4);
        for d in derived {
            let alg = Alg::parse(d["alg"].as_str().unwrap()).unwrap();
            let keys = AssertionKey::derive_all(&ring, alg);
            let key = keys.iter().find(|k| k.kid() == d["kid"]).unwrap();
            let hex: String = key.pkcs8().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, d["pkcs8"].as_str().unwrap(), "{alg:?} {}", key.kid());
        }
    }

    #[test]
    fn a_kid_names_one_key() {
        let keys = AssertionKey::derive_all(&ring(), Alg::EdDSA);
        assert_eq!(distinct_kids(keys.clone(), "privateKeys").unwrap().len(), 2);
        let mut twice = keys.clone();
        twice[1].kid = keys[0].kid.clone();
        let e = distinct_kids(twice, "privateKeys").unwrap_err();
        assert_eq!(
            (e.code(), e.setting()),
            ("invalid_config", Some("privateKeys"))
        );
        assert!(
            e.to_string().contains("key 1 has the same kid as key 0"),
            "{e}"
        );
    }

    #[test]
    fn p256_scalars_in_range_only() {
        assert!(!valid_p256_scalar(&[0; 32]));
        assert!(!valid_p256_scalar(&P256_ORDER));
        assert!(!valid_p256_scalar(&[0xff; 32]));
        let mut below = P256_ORDER;
        below[31] -= 1;
        assert!(valid_p256_scalar(&below));
        let mut one = [0; 32];
        one[31] = 1;
        assert!(valid_p256_scalar(&one));
    }

    #[test]
    fn pkcs8_shapes() {
        let ed = &AssertionKey::derive_all(&ring(), Alg::EdDSA)[0];
        let der = ed.pkcs8();
        assert_eq!(der.len(), 48);
        assert_eq!(usize::from(der[1]) + 2, der.len());
        assert_eq!(&der[16..], &ed.private);
        let es = &AssertionKey::derive_all(&ring(), Alg::ES256)[0];
        let der = es.pkcs8();
        assert_eq!(der.len(), 67);
        assert_eq!(usize::from(der[1]) + 2, der.len());
        assert_eq!(&der[35..], &es.private);
    }

    #[test]
    fn explicit_jwk_checked() {
        let d = b64_encode(&[7; 32]);
        let k = AssertionKey::from_jwk(
            &format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"ignored","kid":"ops-1"}}"#),
            Alg::EdDSA,
            "ORIGIN_ASSERTION_KEY",
        )
        .unwrap();
        assert_eq!((k.kid(), k.private), ("ops-1", [7; 32]));
        let refuse = |text: &str, alg| {
            let e = AssertionKey::from_jwk(text, alg, "ORIGIN_ASSERTION_KEY").unwrap_err();
            assert_eq!(e.setting(), Some("ORIGIN_ASSERTION_KEY"));
            assert!(!e.to_string().contains(&d), "{e}");
            e
        };
        // Wrong curve for the algorithm, no kid, bad d, d out of range, not JSON.
        refuse(
            &format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","kid":"a"}}"#),
            Alg::ES256,
        );
        refuse(
            &format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}"}}"#),
            Alg::EdDSA,
        );
        refuse(
            r#"{"kty":"OKP","crv":"Ed25519","d":"AAAA","kid":"a"}"#,
            Alg::EdDSA,
        );
        let high = b64_encode(&[0xff; 32]);
        refuse(
            &format!(r#"{{"kty":"EC","crv":"P-256","d":"{high}","kid":"a"}}"#),
            Alg::ES256,
        );
        refuse("nope", Alg::EdDSA);
        let e = refuse(
            &format!(r#"{{"kty":"EC","crv":"P-256","d":"{d}","kid":"bad kid"}}"#),
            Alg::ES256,
        );
        assert_eq!(e.code(), "invalid_config");
        // The private key pasted as the kid too: the kid is published in the JWKS.
        let e = refuse(
            &format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","kid":"{d}"}}"#),
            Alg::EdDSA,
        );
        assert!(e.to_string().contains("a kid is public"), "{e}");
    }

    #[test]
    fn jwks_has_public_members_only() {
        let keys = AssertionKey::derive_all(&ring(), Alg::ES256);
        let x = b64_encode(&[1; 32]);
        let y = b64_encode(&[2; 32]);
        let exported = format!(
            r#"{{"kty":"EC","crv":"P-256","d":"{}","x":"{x}","y":"{y}","ext":true,"key_ops":["sign"]}}"#,
            b64_encode(&keys[0].private)
        );
        let public = PublicJwk::from_exported(&keys[0], &exported).unwrap();
        let set = jwks(&[public.clone(), public]);
        let v: serde_json::Value = serde_json::from_str(&set).unwrap();
        let list = v["keys"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        let jwk = list[0].as_object().unwrap();
        let mut names: Vec<&str> = jwk.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
        assert_eq!(jwk["kid"], "k2-ES256-1IyusSDr");
        assert_eq!(jwk["alg"], "ES256");
        assert!(!set.contains("\"d\"") && !set.contains(&b64_encode(&keys[0].private)));

        let ed = &AssertionKey::derive_all(&ring(), Alg::EdDSA)[0];
        let public = PublicJwk::from_exported(
            ed,
            &format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","d":"zz"}}"#),
        )
        .unwrap();
        assert_eq!(
            public.to_json(),
            format!(
                r#"{{"alg":"EdDSA","crv":"Ed25519","kid":"k2-EdDSA-1IyusSDr","kty":"OKP","use":"sig","x":"{x}"}}"#
            )
        );
        // Wrong curve, short coordinate, missing y: refused.
        assert!(PublicJwk::from_exported(ed, &format!(r#"{{"crv":"P-256","x":"{x}"}}"#)).is_err());
        assert!(PublicJwk::from_exported(ed, r#"{"crv":"Ed25519","x":"AAAA"}"#).is_err());
        assert!(
            PublicJwk::from_exported(&keys[0], &format!(r#"{{"crv":"P-256","x":"{x}"}}"#)).is_err()
        );
        assert_eq!(jwks(&[]), r#"{"keys":[]}"#);
        assert_eq!(jwks_cache_control(), "public, max-age=300");
    }

    #[test]
    fn claims_of_a_session_and_of_an_anonymous_request() {
        let session = r#"{"sub":"alice","sid":"s1","role":"admin","iat":100,"exp":200,"iss":"x","aud":"y","status":"forged","auth_time":90}"#;
        let c = AssertionClaims::new(
            "https://app.example",
            "http://10.0.0.1:8080",
            "valid",
            Some(session),
            &[
                ("revocation", json::quoted("unchecked")),
                ("exp", "1".into()),
            ],
        );
        assert_eq!(
            c.identity(),
            r#"{"aud":"http://10.0.0.1:8080","auth_time":90,"iss":"https://app.example","revocation":"unchecked","role":"admin","sid":"s1","status":"valid","sub":"alice"}"#
        );
        let key = &AssertionKey::derive_all(&ring(), Alg::EdDSA)[0];
        let s = c.signing_input(key, 1000, 300);
        assert_eq!((s.iat, s.exp), (1000, 1300));
        let header = b64_decode(s.input.split('.').next().unwrap()).unwrap();
        assert_eq!(
            header,
            br#"{"alg":"EdDSA","kid":"k2-EdDSA-1IyusSDr","typ":"JWT"}"#
        );
        let token = s.finish(&[9; 64]);
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(token.split('.').nth(2).unwrap(), b64_encode(&[9; 64]));
        let p: serde_json::Value = serde_json::from_str(&payload(&token)).unwrap();
        assert_eq!(
            (p["iat"].as_u64(), p["exp"].as_u64()),
            (Some(1000), Some(1300))
        );
        assert_eq!(p["sub"], "alice");

        // Never longer than five minutes.
        assert_eq!(c.signing_input(key, 1000, 3600).exp, 1300);

        let anon = AssertionClaims::new("https://app.example", "http://o", "none", None, &[]);
        assert_eq!(
            anon.identity(),
            r#"{"aud":"http://o","iss":"https://app.example","status":"none"}"#
        );
        // Claims that are not an object are left out.
        let odd = AssertionClaims::new("i", "a", "valid", Some("[1]"), &[]);
        assert_eq!(odd.identity(), r#"{"aud":"a","iss":"i","status":"valid"}"#);
    }

    /// `data_sha256` is the data's SHA-256 (base64url, checked against a known digest), and
    /// only the exact data passes `check_data`.
    #[test]
    fn session_data_is_checked_against_its_digest() {
        // printf '{"cart":[]}' | openssl dgst -sha256 -binary | basenc --base64url
        let data = r#"{"cart":[]}"#;
        assert_eq!(
            data_sha256(data),
            "EMVnM7fQAMC2dhSL-aiKzxDP6nNLEAf8YR3F_EK8Es8"
        );
        let claims = |digest: &str| format!(r#"{{"iss":"i","{DATA_CLAIM}":"{digest}"}}"#);
        assert_eq!(check_data(&claims(&data_sha256(data)), data), Ok(()));
        for (signed, data) in [
            (claims(&data_sha256(data)), r#"{"cart":[1]}"#),
            (claims(&data_sha256(data)), ""),
            (claims("FMVnM7fQAMC2dhSL-aiKzxDP6nNLEAf8YR3F_EK8Es8"), data),
            (r#"{"iss":"i"}"#.to_owned(), data),
            (format!(r#"{{"{DATA_CLAIM}":1}}"#), data),
        ] {
            assert_eq!(
                check_data(&signed, data),
                Err(Error::BadSignature),
                "{signed}"
            );
        }
    }

    #[test]
    fn an_assertion_read_then_checked() {
        let key = &AssertionKey::derive_all(&ring(), Alg::ES256)[0];
        let c = AssertionClaims::new(
            "https://i",
            "http://a",
            "valid",
            Some(r#"{"sub":"u"}"#),
            &[],
        );
        let s = c.signing_input(key, 1000, 300);
        let token = s.finish(&[5; 64]);
        let u = UntrustedAssertion::parse(&token).unwrap();
        assert_eq!((u.kid(), u.alg()), ("k2-ES256-1IyusSDr", Alg::ES256));
        assert_eq!(u.signing_input(), s.input);
        assert_eq!(u.signature(), &[5; 64]);
        // The signature first: nothing is read from an assertion the verifier refused.
        let mut seen = None;
        let forged = u.clone().verify_with(
            |a| {
                seen = Some((a.kid().to_owned(), a.signing_input().to_owned()));
                false
            },
            "https://i",
            "http://a",
            1000,
            0,
        );
        assert_eq!(forged, Err(Error::BadSignature));
        assert_eq!(seen, Some(("k2-ES256-1IyusSDr".into(), s.input.clone())));
        let check = |iss: &str, aud: &str, now| {
            UntrustedAssertion::parse(&token)
                .unwrap()
                .verify_with(|_| true, iss, aud, now, 0)
        };
        let claims = check("https://i", "http://a", 1000).unwrap();
        assert!(claims.contains(r#""sub":"u""#));
        assert_eq!(
            check("https://j", "http://a", 1000),
            Err(Error::WrongIssuer)
        );
        assert_eq!(
            check("https://i", "http://b", 1000),
            Err(Error::WrongAudience)
        );
        assert_eq!(
            check("https://i", "http://a", 1300).unwrap_err().code(),
            "expired"
        );
        assert!(check("https://i", "http://a", 1299).is_ok());
        assert_eq!(
            check("https://i", "http://a", 999).unwrap_err().code(),
            "not_yet_valid"
        );
        // Leeway both ways.
        let lenient = UntrustedAssertion::parse(&token).unwrap().verify_with(
            |_| true,
            "https://i",
            "http://a",
            1310,
            30,
        );
        assert!(lenient.is_ok());
        // At most a day, as every leeway here: milliseconds taken for seconds are refused.
        let leeway = |l| {
            UntrustedAssertion::parse(&token)
                .unwrap()
                .verify_with(|_| true, "https://i", "http://a", 1299 + 86_400, l)
                .map_err(|e| e.code())
        };
        assert!(leeway(86_400).is_ok());
        assert_eq!(leeway(86_401), Err("invalid_config"));
        assert_eq!(leeway(100_000_000), Err("invalid_config"));
        // A `now` in milliseconds is refused as such, not taken for an expired assertion.
        let e = UntrustedAssertion::parse(&token)
            .unwrap()
            .verify_with(|_| true, "https://i", "http://a", 1_800_000_000_000, 0)
            .unwrap_err();
        assert_eq!((e.code(), e.setting()), ("invalid_config", Some("now")));

        // Fractional times (a NumericDate may be one) are compared as they are: exp 1300.5
        // is still valid at 1300, iat 1000.5 not yet at 1000.
        let fractional = [
            b64_encode(br#"{"alg":"ES256","kid":"k2"}"#),
            b64_encode(br#"{"aud":"http://a","exp":1300.5,"iat":1000.5,"iss":"https://i"}"#),
            b64_encode(&[5; 64]),
        ]
        .join(".");
        let check = |now| {
            UntrustedAssertion::parse(&fractional)
                .unwrap()
                .verify_with(|_| true, "https://i", "http://a", now, 0)
                .map_err(|e| e.code())
        };
        assert!(check(1300).is_ok() && check(1001).is_ok());
        assert_eq!(check(1301), Err("expired"));
        assert_eq!(check(1000), Err("not_yet_valid"));

        // Refused when read: another algorithm, no kid, a short signature, not three parts.
        let header = |h: &str| {
            format!(
                "{}.{}",
                b64_encode(h.as_bytes()),
                token.split_once('.').unwrap().1
            )
        };
        assert_eq!(
            UntrustedAssertion::parse(&header(r#"{"alg":"none","kid":"k2"}"#))
                .unwrap_err()
                .code(),
            "unsupported_alg"
        );
        assert_eq!(
            UntrustedAssertion::parse(&header(r#"{"alg":"HS256","kid":"k2"}"#))
                .unwrap_err()
                .code(),
            "unsupported_alg"
        );
        // The sender's alg is named bounded and ASCII only.
        let long = format!(r#"{{"alg":"\u202e{}","kid":"k2"}}"#, "x".repeat(2000));
        assert_eq!(
            UntrustedAssertion::parse(&header(&long)).unwrap_err(),
            Error::UnsupportedAlg(format!("\u{fffd}\u{fffd}\u{fffd}{}...", "x".repeat(61)))
        );
        assert_eq!(
            UntrustedAssertion::parse(&header(r#"{"alg":"EdDSA"}"#))
                .unwrap_err()
                .code(),
            "malformed"
        );
        // A critical extension, which no verifier here understands (RFC 7515 4.1.11).
        assert_eq!(
            UntrustedAssertion::parse(&header(r#"{"alg":"EdDSA","kid":"k2","crit":["x"]}"#)),
            Err(Error::Malformed("no crit header extension is supported"))
        );
        assert_eq!(
            UntrustedAssertion::parse(&s.finish(&[5; 63]))
                .unwrap_err()
                .code(),
            "bad_signature"
        );
        assert_eq!(
            UntrustedAssertion::parse("a.b").unwrap_err().code(),
            "malformed"
        );
        assert_eq!(
            UntrustedAssertion::parse(&"a".repeat(9000))
                .unwrap_err()
                .code(),
            "too_large"
        );
    }

    #[test]
    fn reuse_while_more_than_half_the_life_is_left() {
        let key = &AssertionKey::derive_all(&ring(), Alg::EdDSA)[0];
        let c = AssertionClaims::new("i", "a", "none", None, &[]);
        let other_origin = AssertionClaims::new("i", "b", "none", None, &[]);
        let mut cache = AssertionCache::new(8);
        assert_eq!(cache.get("k2", &c, 1000), None);
        let s = c.signing_input(key, 1000, 300);
        cache.put("k2", &c, &s, s.finish(&[1; 64]), 1000);
        let token = s.finish(&[1; 64]);
        assert_eq!(cache.get("k2", &c, 1000), Some(token.as_str()));
        assert_eq!(cache.get("k2", &c, 1149), Some(token.as_str()));
        assert_eq!(cache.get("k2", &c, 1150), None);
        assert_eq!(cache.get("k2", &c, 999), None);
        // Signed again: the new one replaces the old.
        let again = c.signing_input(key, 1150, 300);
        cache.put("k2", &c, &again, again.finish(&[2; 64]), 1150);
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.get("k2", &c, 1151),
            Some(again.finish(&[2; 64]).as_str())
        );
        // Another origin, another key id, other claims: not this one.
        assert_eq!(cache.get("k2", &other_origin, 1000), None);
        assert_eq!(cache.get("k1", &c, 1000), None);
        assert_eq!(
            cache.get(
                "k2",
                &AssertionClaims::new("i", "a", "valid", None, &[]),
                1000
            ),
            None
        );
    }

    #[test]
    fn cache_is_bounded_dropping_stale_then_oldest() {
        let key = &AssertionKey::derive_all(&ring(), Alg::EdDSA)[0];
        let mut cache = AssertionCache::new(3);
        let claims = |aud: &str| AssertionClaims::new("i", aud, "none", None, &[]);
        let put = |cache: &mut AssertionCache, aud: &str, now| {
            let c = claims(aud);
            let s = c.signing_input(key, now, 300);
            cache.put("k2", &c, &s, s.finish(&[0; 64]), now);
        };
        put(&mut cache, "a", 1000);
        put(&mut cache, "b", 1200);
        put(&mut cache, "c", 1210);
        assert_eq!(cache.len(), 3);
        // At 1220 "a" is stale (issued 1000): it goes, the others stay.
        put(&mut cache, "d", 1220);
        assert_eq!(cache.len(), 3);
        assert!(cache.get("k2", &claims("a"), 1220).is_none());
        assert!(cache.get("k2", &claims("b"), 1220).is_some());
        // None stale: the oldest ("b") goes.
        put(&mut cache, "e", 1225);
        assert_eq!(cache.len(), 3);
        assert!(cache.get("k2", &claims("b"), 1225).is_none());
        assert!(cache.get("k2", &claims("c"), 1225).is_some());
        assert!(cache.get("k2", &claims("e"), 1225).is_some());
        let mut none = AssertionCache::new(0);
        put(&mut none, "a", 1000);
        assert!(none.is_empty());
        // The gateway's and OriginAssertions' cache keeps 512 (docs/gateway.md): the 513th
        // assertion, all still reusable, puts out the oldest.
        let mut full = AssertionCache::new(CACHE_ENTRIES);
        put(&mut full, "o0", 999);
        for i in 1..=512 {
            put(&mut full, &format!("o{i}"), 1000);
        }
        assert_eq!(full.len(), 512);
        assert!(full.get("k2", &claims("o0"), 1000).is_none());
        assert!(full.get("k2", &claims("o1"), 1000).is_some());
    }

    /// `Debug` of the cache (a `{:?}` in a log line) shows no assertion it keeps: each is a
    /// bearer token an origin accepts for minutes, nor the identity (claims) it is kept under.
    #[test]
    fn cache_debug_shows_no_assertion() {
        let key = &AssertionKey::derive_all(&ring(), Alg::EdDSA)[0];
        let c = AssertionClaims::new("i", "a", "valid", Some(r#"{"sub":"alice-9431"}"#), &[]);
        let mut cache = AssertionCache::new(8);
        let s = c.signing_input(key, 1000, 300);
        let token = s.finish(&[1; 64]);
        cache.put("k2", &c, &s, token.clone(), 1000);
        let shown = format!("{cache:?}");
        let signature = token.rsplit('.').next().unwrap();
        for secret in [token.as_str(), signature, &s.input, "alice-9431"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("AssertionCache"), "{shown}");
    }

    /// The cache is bounded in bytes too: an assertion over CACHE_ENTRY_MAX_BYTES (its claims
    /// and token) is not kept, one under it is. Before, 512 of 40 KB claims were all kept.
    #[test]
    fn big_assertions_are_not_kept() {
        let key = &AssertionKey::derive_all(&ring(), Alg::EdDSA)[0];
        let mut cache = AssertionCache::new(CACHE_ENTRIES);
        let put = |cache: &mut AssertionCache, i: usize, pad: usize| {
            let session = format!(r#"{{"sub":"u{i}","pad":"{}"}}"#, "x".repeat(pad));
            let c = AssertionClaims::new("i", "a", "valid", Some(&session), &[]);
            let s = c.signing_input(key, 1000, 300);
            let token = s.finish(&[0; 64]);
            let size = AssertionCache::key("k2", &c).len() + token.len();
            cache.put("k2", &c, &s, token, 1000);
            (c, size)
        };
        for i in 0..CACHE_ENTRIES + 10 {
            let (c, size) = put(&mut cache, i, 40_000);
            assert!(size > 40_000 && cache.get("k2", &c, 1000).is_none());
        }
        assert!(cache.is_empty(), "{} big assertions kept", cache.len());
        let (c, size) = put(&mut cache, 0, 6_000);
        assert!(size <= CACHE_ENTRY_MAX_BYTES, "{size}");
        assert!(cache.get("k2", &c, 1000).is_some());
        assert_eq!(cache.len(), 1);
        // At the bound docs/gateway.md gives (none over 16 KiB with its claims): every size
        // around it (16384 and 16385 bytes among them: a longer key id adds a byte to the key
        // alone), kept exactly when it is at most 16384.
        let mut sizes = Vec::new();
        for pad in 6_870..6_900 {
            let session = format!(r#"{{"sub":"u","pad":"{}"}}"#, "x".repeat(pad));
            let c = AssertionClaims::new("i", "a", "valid", Some(&session), &[]);
            let s = c.signing_input(key, 1000, 300);
            for kid in ["k2", "k22", "k222"] {
                let mut cache = AssertionCache::new(CACHE_ENTRIES);
                let token = s.finish(&[0; 64]);
                let size = AssertionCache::key(kid, &c).len() + token.len();
                cache.put(kid, &c, &s, token, 1000);
                let kept = cache.get(kid, &c, 1000).is_some();
                assert_eq!(kept, size <= 16_384, "{size} bytes");
                sizes.push(size);
            }
        }
        assert!(
            sizes.contains(&16_384) && sizes.contains(&16_385),
            "{sizes:?}"
        );
    }
}
