//! The JWS compact serialization (RFC 7515 section 7.1), split strictly: the one splitter of
//! the signed JWTs read here whose signature is checked elsewhere (WebCrypto): the origin
//! assertions ([`crate::token::assertion`]) and the DBSC proofs ([`crate::dbsc::proof`]).
//! JWT HS256 ([`crate::jwt`]) keeps its own, which recognises its usual headers by their text.

use crate::codec::b64_decode;
use crate::error::{Error, Result};

/// The three base64url segments of a compact JWS and the signing input they start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segments<'a> {
    /// The protected header, base64url.
    pub(crate) header: &'a str,
    /// The payload, base64url.
    pub(crate) payload: &'a str,
    /// The signature, base64url.
    pub(crate) signature: &'a str,
    /// `header.payload`: the bytes the signature covers.
    pub(crate) input: &'a str,
}

/// Splits `token`, at most `max` bytes (`too_large` before anything is read), into exactly
/// three segments (`malformed` for fewer or more). Nothing is decoded yet: each caller decodes
/// in the order its error codes say ([`json_text`], [`b64_decode`]).
pub(crate) fn split(token: &str, max: usize) -> Result<Segments<'_>> {
    if token.len() > max {
        return Err(Error::TooLarge {
            len: token.len(),
            max,
        });
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("not a compact JWS"));
    };
    let input = token
        .get(..header.len() + 1 + payload.len())
        .ok_or(Error::Malformed("not a compact JWS"))?;
    Ok(Segments {
        header,
        payload,
        signature,
        input,
    })
}

/// A base64url segment decoded to UTF-8 text (JSON still to be read); `malformed` naming
/// `what` when it is not UTF-8.
pub(crate) fn json_text(segment: &str, what: &'static str) -> Result<String> {
    String::from_utf8(b64_decode(segment)?).map_err(|_| Error::Malformed(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_segments_exactly_within_the_cap() {
        let s = split("aGk.eyJ9.c2ln", 100).unwrap();
        assert_eq!(
            (s.header, s.payload, s.signature, s.input),
            ("aGk", "eyJ9", "c2ln", "aGk.eyJ9")
        );
        assert_eq!(split("..", 100).unwrap().input, ".");
        for bad in ["", "a", "a.b", "a.b.c.d", "a.b.c."] {
            assert_eq!(split(bad, 100).unwrap_err().code(), "malformed", "{bad:?}");
        }
        assert_eq!(split("a.b.cd", 5).unwrap_err().code(), "too_large");
        assert!(split("a.b.c", 5).is_ok());
    }

    #[test]
    fn segments_decode_strictly() {
        assert_eq!(json_text("eyJ9", "x").unwrap(), "{\"}");
        // Padding, the standard alphabet, and bytes that are not UTF-8.
        for bad in ["eyJ9=", "e+J9", "_w"] {
            assert_eq!(
                json_text(bad, "x").unwrap_err().code(),
                "malformed",
                "{bad:?}"
            );
        }
    }
}
