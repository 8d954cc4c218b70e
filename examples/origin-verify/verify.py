"""An origin verifies the gateway's signed assertion (ORIGIN_ASSERTION = "EdDSA" or "ES256")
with PyJWT 2.14 or later (pip install "pyjwt>=2.14" cryptography: PyJWKClient's
cooldown_duration; before 2.13 every unknown key id fetched the JWKS again, GHSA-fhv5-28vv-h8m8).
The gateway's public keys come from its JWKS, fetched once, cached, and fetched again when an
assertion names an unknown key id (a rotation), at most once per cooldown.

    verify = AssertionVerifier(issuer="https://app.example", audience="http://10.0.0.1:8080")
    claims = verify(request.headers["x-session-assertion"],
                    data=request.headers.get("x-session-data"))  # raises jwt.InvalidTokenError
    if claims["status"] == "valid": print("user", claims["sub"], "session", claims["sid"])

Every refusal of the token is a jwt.InvalidTokenError (an unknown kid too); a JWKS that cannot
be fetched is a jwt.PyJWKClientConnectionError, the origin's trouble rather than the token's.

`data`, the `x-session-data` that came with the assertion (STORE on), is refused unless the
assertion's `data_sha256` is its SHA-256: a request that reached the origin without the gateway
cannot bring a replayed assertion with data of its own. Take the data only after that check.

Run as a script (`verify.py ISSUER AUDIENCE [JWKS_URL [COOLDOWN_SECONDS]]`) it reads one assertion per line on stdin
(or an assertion, a tab and its session data) and prints one JSON line per
assertion: {"ok": true, "claims": {...}} or {"ok": false, "error": "ExpiredSignatureError"}.
"""
import base64
import hashlib
import json
import sys

import jwt


class AssertionVerifier:
    def __init__(self, issuer, audience, jwks_url=None, cooldown=30, leeway=5):
        # cooldown: an unknown kid fetches the JWKS again at most this often (seconds).
        # leeway: how far this origin's clock may be behind (or ahead of) the gateway's, seconds.
        # Without it an assertion signed in the current second was refused (ImmatureSignatureError,
        # iat in the future) by an origin whose clock is a fraction of a second behind.
        # PyJWT checks no issuer it is not given (None): required here, as the audience.
        if not issuer or not audience:
            raise ValueError("AssertionVerifier: issuer and audience are required")
        self.issuer, self.audience, self.leeway = issuer, audience, leeway
        self.jwks = jwt.PyJWKClient(jwks_url or issuer + "/.well-known/jwks.json",
                                    cooldown_duration=cooldown)

    def __call__(self, token, data=None):
        try:
            key = self.jwks.get_signing_key_from_jwt(token)  # fetches again on an unknown kid
        except jwt.PyJWKClientConnectionError:
            raise  # the JWKS could not be fetched: the origin's trouble, not the token's
        except jwt.PyJWKClientError as e:
            # No published key has the token's kid (anyone can write one): refused as every
            # other bad token is, with an InvalidTokenError (PyJWKClientError is none).
            raise jwt.InvalidTokenError(str(e)) from e
        # Only the key's own algorithm: a header naming another one (ES256 with an Ed25519 key's
        # kid) is an InvalidAlgorithmError, where PyJWT given the key raised TypeError.
        algorithms = [a for a in ("EdDSA", "ES256") if a == key.algorithm_name]
        claims = jwt.decode(token, key.key, algorithms=algorithms, issuer=self.issuer,
                            audience=self.audience, leeway=self.leeway,
                            options={"require": ["iat", "exp", "status"]})
        if data is not None and claims.get("data_sha256") != sha256(data):
            raise jwt.InvalidTokenError("x-session-data is not the data the assertion signed")
        return claims


def sha256(text):
    """SHA-256 of text (UTF-8), base64url: what the gateway signs as data_sha256."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


if __name__ == "__main__":
    issuer, audience, jwks_url, cooldown = (sys.argv[1:] + [None] * 4)[:4]
    verify = AssertionVerifier(issuer, audience, jwks_url, float(cooldown or 30))
    for line in sys.stdin:
        token, _, data = line.rstrip("\n").partition("\t")
        try:
            claims = verify(token.strip(), data if _ else None)
            print(json.dumps({"ok": True, "claims": claims}), flush=True)
        except Exception as e:  # every refusal is reported, never trusted
            print(json.dumps({"ok": False, "error": type(e).__name__}), flush=True)
