// An origin verifies the gateway's signed assertion (ORIGIN_ASSERTION = "EdDSA" or "ES256")
// with jose: the gateway's public keys come from its JWKS, fetched once, cached, and fetched
// again when an assertion names a key id it does not hold (a key rotation).
//
//   import { assertionVerifier } from "./verify.mjs";
//   const verify = assertionVerifier({ issuer: "https://app.example", audience: "http://10.0.0.1:8080" });
//   const claims = await verify(req.headers["x-session-assertion"]); // throws when not valid
//   if (claims.status === "valid") console.log("user", claims.sub, "session", claims.sid);
import { createRemoteJWKSet, jwtVerify } from "jose";

/**
 * A function that verifies an `x-session-assertion` and returns its claims, or throws.
 * - `issuer`: the gateway's public origin (its `iss`); the JWKS is at `${issuer}/.well-known/jwks.json`
 *   unless `jwksUrl` says otherwise.
 * - `audience`: this origin's URL as the gateway's ORIGINS lists it (its `aud`).
 * - `cooldownDuration`: jose fetches the JWKS again on an unknown `kid` at most this often (ms).
 */
export function assertionVerifier({ issuer, audience, jwksUrl, cooldownDuration = 30_000 }) {
  // jose checks no audience or issuer it is not given: an unset one would accept the assertions
  // the gateway makes for every other origin.
  if (!issuer || !audience) throw new TypeError("assertionVerifier: issuer and audience are required");
  const jwks = createRemoteJWKSet(new URL(jwksUrl ?? `${issuer}/.well-known/jwks.json`), { cooldownDuration });
  return async (token, { currentDate } = {}) => {
    const { payload } = await jwtVerify(String(token ?? ""), jwks, {
      issuer,
      audience,
      algorithms: ["EdDSA", "ES256"],
      requiredClaims: ["iat", "exp", "status"],
      maxTokenAge: "5m",
      currentDate,
    });
    return payload;
  };
}
