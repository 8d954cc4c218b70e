//! The browser's public key ([`DeviceKey`]), read from the JWK of a registration proof's header
//! (RFC 7517, RFC 7518 section 6): ECDSA P-256 (`ES256`) or RSA of 2048 to 4096 bits
//! (`RS256`), public members only. Its RFC 7638 thumbprint ([`DeviceKey::thumbprint`]) is what
//! the session records (`cnf.jkt`); its canonical JWK ([`DeviceKey::to_jwk_json`]) is what
//! WebCrypto imports to verify a proof and what a server keeps to verify the next ones.

use crate::codec::{b64_decode, b64_encode};
use crate::error::{Error, Result};
use crate::json;

/// The signature algorithms of DBSC proofs (the W3C draft's `ES256` and `RS256`; `none` is
/// never accepted here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256, the signature raw `r || s` (64 bytes), WebCrypto `ECDSA`.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, WebCrypto `RSASSA-PKCS1-v1_5`.
    RS256,
}

impl Alg {
    /// `ES256` or `RS256` (the JOSE names, exactly), else `None`.
    ///
    /// ```
    /// use edge_session::dbsc::Alg;
    /// assert_eq!(Alg::parse("RS256"), Some(Alg::RS256));
    /// assert_eq!(Alg::parse("none"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Alg> {
        match text {
            "ES256" => Some(Alg::ES256),
            "RS256" => Some(Alg::RS256),
            _ => None,
        }
    }

    /// The JOSE name: `ES256` or `RS256`.
    pub fn name(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::RS256 => "RS256",
        }
    }
}

/// The shortest RSA modulus accepted, bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The longest RSA modulus accepted, bits.
pub const MAX_RSA_BITS: usize = 4096;

/// JWK members that only a private key has (RFC 7518 sections 6.2.2, 6.3.2 and 6.4): a JWK
/// with any of them is refused, so a private key is never taken, kept or echoed.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A device's public key: P-256 coordinates or an RSA modulus and exponent, each kept as its
/// canonical base64url text (the strict decoder accepts one text per value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceKey {
    public: Public,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Public {
    Ec { x: String, y: String },
    Rsa { n: String, e: String, len: usize },
}

impl DeviceKey {
    /// Reads a public JWK: `{"kty":"EC","crv":"P-256","x":…,"y":…}` (coordinates of 32 bytes)
    /// or `{"kty":"RSA","n":…,"e":…}` (a modulus of 2048 to 4096 bits without leading zero
    /// bytes, an odd exponent of 3 to 2^32 - 1). Other members are ignored, except an `alg`
    /// naming another algorithm and the private members (`d`, `p`, `q`, `dp`, `dq`, `qi`,
    /// `oth`, `k`): `malformed`, like duplicate members and everything else that does not fit.
    /// Whether the point lies on the curve is WebCrypto's to say when it imports the key.
    ///
    /// ```
    /// use edge_session::dbsc::{Alg, DeviceKey};
    /// let key = DeviceKey::from_jwk_json(
    ///     r#"{"kty":"EC","crv":"P-256","x":"6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI","y":"IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE"}"#,
    /// )?;
    /// assert_eq!(key.alg(), Alg::ES256);
    /// assert_eq!(DeviceKey::from_jwk_json(&key.to_jwk_json())?, key);
    /// # Ok::<(), edge_session::Error>(())
    /// ```
    pub fn from_jwk_json(text: &str) -> Result<DeviceKey> {
        let malformed = Error::Malformed;
        let members = json::members(text).map_err(|e| match e {
            json::ObjectError::Duplicate => malformed("duplicate JWK member"),
            json::ObjectError::TooDeep => malformed("a JWK nested more than 127 levels deep"),
            json::ObjectError::NotObject | json::ObjectError::LoneSurrogate => {
                malformed("a JWK is a JSON object")
            }
        })?;
        if PRIVATE_MEMBERS
            .iter()
            .any(|name| json::get(&members, name).is_some())
        {
            return Err(malformed("a device key must be a public JWK"));
        }
        let text_of = |name: &str| -> Result<String> {
            json::get(&members, name)
                .and_then(json::string)
                .map(|s| s.into_owned())
                .ok_or(malformed("a JWK member is missing or not a string"))
        };
        let (public, alg) = match text_of("kty")?.as_str() {
            "EC" => {
                if text_of("crv")? != "P-256" {
                    return Err(malformed("an EC device key must be on P-256"));
                }
                let coordinate = |name: &str| -> Result<String> {
                    let text = text_of(name)?;
                    match b64_decode(&text) {
                        Ok(bytes) if bytes.len() == 32 => Ok(text),
                        _ => Err(malformed("a P-256 coordinate is 32 bytes of base64url")),
                    }
                };
                let public = Public::Ec {
                    x: coordinate("x")?,
                    y: coordinate("y")?,
                };
                (public, Alg::ES256)
            }
            "RSA" => {
                let n = text_of("n")?;
                let e = text_of("e")?;
                let len = rsa_modulus_len(&b64_decode(&n)?)?;
                check_rsa_exponent(&b64_decode(&e)?)?;
                (Public::Rsa { n, e, len }, Alg::RS256)
            }
            _ => return Err(malformed("a device key is an EC or RSA JWK")),
        };
        match json::get(&members, "alg").map(json::string) {
            None => {}
            Some(Some(named)) if named == alg.name() => {}
            Some(_) => return Err(malformed("the JWK's alg does not fit its key")),
        }
        Ok(DeviceKey { public })
    }

    /// The algorithm this key signs with: `ES256` for P-256, `RS256` for RSA.
    pub fn alg(&self) -> Alg {
        match self.public {
            Public::Ec { .. } => Alg::ES256,
            Public::Rsa { .. } => Alg::RS256,
        }
    }

    /// The length of this key's signatures, bytes: 64 for ES256, the modulus length for RS256.
    pub fn signature_len(&self) -> usize {
        match self.public {
            Public::Ec { .. } => 64,
            Public::Rsa { len, .. } => len,
        }
    }

    /// The canonical public JWK (RFC 7638 section 3.2: the required members only, sorted, no
    /// whitespace): `{"crv":"P-256","kty":"EC","x":…,"y":…}` or `{"e":…,"kty":"RSA","n":…}`.
    /// WebCrypto imports it as it is; [`DeviceKey::from_jwk_json`] reads it back.
    pub fn to_jwk_json(&self) -> String {
        // Base64url needs no escaping: the members are written as they are.
        match &self.public {
            Public::Ec { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            Public::Rsa { n, e, .. } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        }
    }

    /// The RFC 7638 JWK thumbprint: base64url of the SHA-256 of [`DeviceKey::to_jwk_json`]
    /// (43 characters). What a session records of its key (`cnf.jkt`, RFC 7800).
    pub fn thumbprint(&self) -> String {
        b64_encode(&crate::keys::sha256(self.to_jwk_json().as_bytes()))
    }
}

/// The length in bytes of an RSA modulus of [`MIN_RSA_BITS`] to [`MAX_RSA_BITS`] bits, written
/// without leading zero bytes (RFC 7518 section 6.3.1.1).
fn rsa_modulus_len(n: &[u8]) -> Result<usize> {
    let first = *n
        .first()
        .ok_or(Error::Malformed("an RSA modulus is empty"))?;
    if first == 0 {
        return Err(Error::Malformed("an RSA modulus has a leading zero byte"));
    }
    let bits = n.len() * 8 - first.leading_zeros() as usize;
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(Error::Malformed("an RSA device key has 2048 to 4096 bits"));
    }
    Ok(n.len())
}

/// An RSA public exponent: 1 to 4 bytes without leading zero, odd, at least 3.
fn check_rsa_exponent(e: &[u8]) -> Result<()> {
    let ok = matches!(e.first(), Some(&b) if b != 0)
        && e.len() <= 4
        && e.last().is_some_and(|b| b & 1 == 1)
        && e.iter().fold(0u64, |v, &b| v << 8 | u64::from(b)) >= 3;
    if ok {
        Ok(())
    } else {
        Err(Error::Malformed("an RSA exponent is odd, 3 to 2^32 - 1"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// RFC 7638 section 3.1: the example RSA key and its thumbprint.
    pub(crate) const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn rsa(n: &str, e: &str) -> Result<DeviceKey> {
        DeviceKey::from_jwk_json(&format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}"}}"#))
    }

    fn ec(x: &str, y: &str) -> String {
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}"#)
    }

    const X: &str = "6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI";
    const Y: &str = "IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE";

    #[test]
    fn rfc7638_known_answer() {
        // The RFC's key as it prints it, with `alg` and `kid` (ignored by the thumbprint).
        let jwk = format!(
            r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}"#
        );
        let key = DeviceKey::from_jwk_json(&jwk).unwrap();
        assert_eq!(key.alg(), Alg::RS256);
        assert_eq!(key.signature_len(), 256);
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(
            key.to_jwk_json(),
            format!(r#"{{"e":"AQAB","kty":"RSA","n":"{RFC7638_N}"}}"#)
        );
    }

    #[test]
    fn ec_keys_round_trip_and_differ_by_thumbprint() {
        let key = DeviceKey::from_jwk_json(&ec(X, Y)).unwrap();
        assert_eq!((key.alg(), key.signature_len()), (Alg::ES256, 64));
        assert_eq!(
            key.to_jwk_json(),
            format!(r#"{{"crv":"P-256","kty":"EC","x":"{X}","y":"{Y}"}}"#)
        );
        assert_eq!(DeviceKey::from_jwk_json(&key.to_jwk_json()).unwrap(), key);
        let other = DeviceKey::from_jwk_json(&ec(Y, X)).unwrap();
        assert_ne!(key.thumbprint(), other.thumbprint());
        assert_eq!(key.thumbprint().len(), 43);
        // Members beyond the required ones are allowed and change nothing.
        let extra = format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","alg":"ES256","use":"sig","ext":true,"key_ops":["verify"]}}"#
        );
        assert_eq!(DeviceKey::from_jwk_json(&extra).unwrap(), key);
    }

    #[test]
    fn every_refusal_is_malformed() {
        let short = &X[..42];
        let bad = [
            "[]".to_owned(),
            "{".to_owned(),
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
                .to_owned(),
            r#"{"kty":"oct","k":"AAAA"}"#.to_owned(),
            format!(r#"{{"kty":"EC","crv":"P-384","x":"{X}","y":"{Y}"}}"#),
            format!(r#"{{"kty":"EC","x":"{X}","y":"{Y}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}"}}"#),
            ec(short, Y),
            ec(&format!("{X}A"), Y),
            ec(&format!("{X}="), Y),
            ec(X, &Y.replace('-', "+")),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","d":"{X}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","alg":"RS256"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","alg":"none"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","x":"{X}","y":"{Y}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":1,"y":"{Y}"}}"#),
            format!(r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","p":"AQAB"}}"#),
            format!(r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","alg":"ES256"}}"#),
            format!(r#"{{"kty":"RSA","n":"{RFC7638_N}"}}"#),
        ];
        for jwk in &bad {
            assert_eq!(
                DeviceKey::from_jwk_json(jwk).unwrap_err().code(),
                "malformed",
                "{jwk}"
            );
        }
    }

    #[test]
    fn rsa_sizes_and_exponents() {
        let modulus = |len: usize, first: u8| {
            let mut n = vec![0xab; len];
            n[0] = first;
            b64_encode(&n)
        };
        // 2048 bits exactly (256 bytes, top bit set) and 4096; one bit short and one byte over.
        assert_eq!(
            rsa(&modulus(256, 0x80), "AQAB").unwrap().signature_len(),
            256
        );
        assert_eq!(
            rsa(&modulus(512, 0xff), "AQAB").unwrap().signature_len(),
            512
        );
        assert_eq!(
            rsa(&modulus(384, 0x01), "AQAB").unwrap().signature_len(),
            384
        );
        for (n, e) in [
            (modulus(256, 0x7f), "AQAB"),
            (modulus(513, 0x01), "AQAB"),
            (modulus(257, 0x00), "AQAB"),
            (String::new(), "AQAB"),
            (modulus(256, 0x80), "AAEAAQ"),   // leading zero byte
            (modulus(256, 0x80), "AQ"),       // 1
            (modulus(256, 0x80), "Ag"),       // even
            (modulus(256, 0x80), "AQABAQAB"), // over 4 bytes
            (modulus(256, 0x80), ""),
        ] {
            assert_eq!(
                rsa(&n, e).unwrap_err().code(),
                "malformed",
                "{} {e}",
                n.len()
            );
        }
        assert!(rsa(&modulus(256, 0x80), "Aw").is_ok()); // 3
        assert!(rsa(&modulus(256, 0x80), "_____w").is_ok()); // 2^32 - 1
    }
}
