"""An origin verifies the gateway's signed assertion (ORIGIN_ASSERTION = "EdDSA" or "ES256")
with PyJWT (pip install pyjwt cryptography). The gateway's public keys come from its JWKS,
fetched once, cached, and fetched again when an assertion names an unknown key id (a rotation).

    verify = AssertionVerifier(issuer="https://app.example", audience="http://10.0.0.1:8080")
    claims = verify(request.headers["x-session-assertion"])  # raises jwt.InvalidTokenError
    if claims["status"] == "valid": print("user", claims["sub"], "session", claims["sid"])

Run as a script (`verify.py ISSUER AUDIENCE [JWKS_URL [COOLDOWN_SECONDS]]`) it reads one assertion per line on stdin and prints one JSON line per
assertion: {"ok": true, "claims": {...}} or {"ok": false, "error": "ExpiredSignatureError"}.
"""
import json
import sys

import jwt


class AssertionVerifier:
    def __init__(self, issuer, audience, jwks_url=None, cooldown=30):
        # cooldown: an unknown kid fetches the JWKS again at most this often (seconds).
        # PyJWT checks no issuer it is not given (None): required here, as the audience.
        if not issuer or not audience:
            raise ValueError("AssertionVerifier: issuer and audience are required")
        self.issuer, self.audience = issuer, audience
        self.jwks = jwt.PyJWKClient(jwks_url or issuer + "/.well-known/jwks.json",
                                    cooldown_duration=cooldown)

    def __call__(self, token):
        key = self.jwks.get_signing_key_from_jwt(token)  # fetches again on an unknown kid
        # Only the key's own algorithm: a header naming another one (ES256 with an Ed25519 key's
        # kid) is an InvalidAlgorithmError, where PyJWT given the key raised TypeError.
        algorithms = [a for a in ("EdDSA", "ES256") if a == key.algorithm_name]
        return jwt.decode(token, key.key, algorithms=algorithms, issuer=self.issuer,
                          audience=self.audience, options={"require": ["iat", "exp", "status"]})


if __name__ == "__main__":
    issuer, audience, jwks_url, cooldown = (sys.argv[1:] + [None] * 4)[:4]
    verify = AssertionVerifier(issuer, audience, jwks_url, float(cooldown or 30))
    for line in sys.stdin:
        try:
            print(json.dumps({"ok": True, "claims": verify(line.strip())}), flush=True)
        except Exception as e:  # every refusal is reported, never trusted
            print(json.dumps({"ok": False, "error": type(e).__name__}), flush=True)
