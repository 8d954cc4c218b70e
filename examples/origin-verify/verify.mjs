// An origin verifies the gateway's signed assertion (ORIGIN_ASSERTION = "EdDSA" or "ES256")
// with jose: the gateway's public keys come from its JWKS, fetched once, cached, and fetched
// again when an assertion names a key id it does not hold (a key rotation).
//
//   import { assertionVerifier } from "./verify.mjs";
//   const verify = assertionVerifier({ issuer: "https://app.example", audience: "http://10.0.0.1:8080" });
//   const claims = await verify(req.headers["x-session-assertion"], { data: req.headers["x-session-data"] });
//   if (claims.status === "valid") console.log("user", claims.sub, "session", claims.sid);
//
// `data`, the `x-session-data` that came with the assertion (STORE on), is refused unless the
// assertion's `data_sha256` is its SHA-256: a request that reached the origin without the gateway
// cannot bring a replayed assertion with data of its own. Take the data only after that check.
import { createHash } from "node:crypto";

import { createRemoteJWKSet, errors, jwtVerify } from "jose";

/**
 * A function that verifies an `x-session-assertion` and returns its claims, or throws.
 * - `issuer`: the gateway's public origin (its `iss`); the JWKS is at `${issuer}/.well-known/jwks.json`
 *   unless `jwksUrl` says otherwise.
 * - `audience`: this origin's URL as the gateway's ORIGINS lists it (its `aud`).
 * - `cooldownDuration`: jose fetches the JWKS again on an unknown `kid` at most this often (ms).
 * - `clockTolerance`: how far this origin's clock may be behind (or ahead of) the gateway's,
 *   seconds. Without it an assertion signed in the current second was refused ("iat" in the
 *   future) by an origin whose clock is a fraction of a second behind: the first requests of
 *   each new signature (a login, every 2.5 minutes of a session) failed at random.
 */
export function assertionVerifier({ issuer, audience, jwksUrl, cooldownDuration = 30_000, clockTolerance = 5 }) {
  // jose checks no audience or issuer it is not given: an unset one would accept the assertions
  // the gateway makes for every other origin.
  if (!issuer || !audience) throw new TypeError("assertionVerifier: issuer and audience are required");
  const jwks = createRemoteJWKSet(new URL(jwksUrl ?? `${issuer}/.well-known/jwks.json`), { cooldownDuration });
  return async (token, { currentDate, data } = {}) => {
    const { payload } = await jwtVerify(String(token ?? ""), jwks, {
      issuer,
      audience,
      algorithms: ["EdDSA", "ES256"],
      requiredClaims: ["iat", "exp", "status"],
      maxTokenAge: "5m",
      clockTolerance,
      currentDate,
    });
    if (data !== undefined && data !== null && payload.data_sha256 !== sha256(String(data))) {
      throw new errors.JWTClaimValidationFailed("x-session-data is not the data the assertion signed", payload, "data_sha256", "check_failed");
    }
    return payload;
  };
}

/** SHA-256 of `text` (UTF-8), base64url: what the gateway signs as `data_sha256`. */
function sha256(text) {
  return createHash("sha256").update(text).digest("base64url");
}
