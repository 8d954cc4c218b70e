// Type-checked by `tsc --noEmit` (tests/pkg/pkg.test.mjs) against the published .d.ts files of
// the installed package. Never run. Each `@ts-expect-error` line must stay an error.
import {
  Affinity,
  ERROR_CODES,
  SealedTokens,
  SessionTokens,
  isEdgeSessionError,
  type EdgeSessionError,
  type ErrorCode,
  type VerifiedClaims,
} from "edge-session";
import { SessionStore, type DurableObjectNamespaceLike, type KvNamespaceLike, type Session, type UpdateOptions } from "edge-session/store";
import { OriginAssertions, SessionTokens as AssertionBuildTokens, type AssertionClaims } from "edge-session/assertion";
import { DeviceBoundSessions, type DeviceRegistration } from "edge-session/dbsc";
import { sessionTokens } from "edge-session/hono";
import { Hono } from "hono";

const keys = [{ id: "k1", secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" }];
const tokens = new SessionTokens({ keys, ttlSeconds: 600 });
const token: string = tokens.sign({ sub: "u1" }, { now: 1 });
const claims: VerifiedClaims = tokens.verify(token);
const exp: number = claims.exp;
void exp;
const sealed: string = new SealedTokens({ keys }).sign({ sub: "u1" });
void sealed;
// Claims typed by an interface (no index signature) are claims too.
interface UserClaims {
  sub: string;
  roles: string[];
}
const user: UserClaims = { sub: "u1", roles: ["admin"] };
void tokens.sign(user);
void tokens.signJwt(user);
void new SealedTokens({ keys }).sign(user);

// Every code of src/error.rs is an ErrorCode, and ERROR_CODES lists them.
const codes: readonly ErrorCode[] = ERROR_CODES;
const storeCodes: ErrorCode[] = ["conflict", "store_unavailable", "bad_signature", "randomness_unavailable"];
void codes;
void storeCodes;
// @ts-expect-error: not a code
const notACode: ErrorCode = "no_such_code";
void notACode;

try {
  tokens.verify("x");
} catch (e: unknown) {
  // @ts-expect-error: `e` is unknown until narrowed
  void e.code;
  if (isEdgeSessionError(e)) {
    const narrowed: EdgeSessionError = e;
    const code: ErrorCode = e.code;
    const setting: string | undefined = e.setting;
    const expiredSub: unknown = e.claims?.sub;
    void narrowed;
    void code;
    void setting;
    void expiredSub;
  }
}

const affinity = new Affinity({ secret: keys[0].secret, backends: [{ id: "a" }] });
const route = affinity.route({ cookie: null });
const backend: string = route.backend;
void backend;

const store = new SessionStore({ keys });
declare const kv: KvNamespaceLike;
declare const durableObject: DurableObjectNamespaceLike;
void new SessionStore({ keys, kv, timeoutMs: 1000 });
void new SessionStore({ keys, durableObject });
// @ts-expect-error: kv or durableObject, not both (invalid_config)
void new SessionStore({ keys, kv, durableObject });
// A KV namespace binding as Workers types it is one: keys listed with their expiration.
void kv.list().then((list) => {
  const listed: { name: string; expiration?: number }[] = list.keys;
  void listed;
});
void kv.put("k", "v", { expiration: 1_900_000_000 });
async function stored(cookie: string | undefined): Promise<void> {
  const options: UpdateOptions = { retries: 2, now: 5 };
  const s: Session = await store.update(cookie, (session) => session.set("n", 1), options);
  await store.update(cookie, (session) => session.set("n", 2), 3, { now: 6 }); // the older form
  await store.update(cookie, (session) => session.set("n", 3));
  await store.update(cookie, (session) => session.delete("n")); // a change that returns a value
  await store.update(cookie, (session) => (session.data = user)); // data typed by an interface
  // @ts-expect-error: retries is a number
  await store.update(cookie, () => {}, { retries: "2" });
  // @ts-expect-error: a { now } after the options is refused (invalid_config): it goes in them
  await store.update(cookie, () => {}, { retries: 2 }, { now: 6 });
  const c: string | undefined = s.cookie;
  void c;
  const response: Response = store.applyCookies(new Response("ok"), s);
  void response;
  // Any response whose headers can change, returned as given.
  const like = { headers: new Headers(), status: 200 };
  const same: typeof like = store.clearCookies(store.applyCookies(like, s, { now: 5 }));
  void same;
  // @ts-expect-error: no headers to change
  store.applyCookies({ status: 200 }, s);
}
void stored;

// The Hono middleware's types, with Hono's own.
const app = new Hono();
app.use(sessionTokens(tokens));

// OriginAssertions (edge-session/assertion), which exports the base's classes too.
const assertions = new OriginAssertions({ alg: "EdDSA", keys, issuer: "https://app.example" });
async function asserted(): Promise<void> {
  const jwt: string = await assertions.sign({ audience: "https://origin.example", claims: { sub: "u1" } });
  const verified: AssertionClaims = await assertions.verify(jwt, { audience: "https://origin.example" });
  // A header not sent (null) rejects with malformed; the claims may be typed by an interface.
  void assertions.verify(new Headers().get("x-session-assertion"), { audience: "https://origin.example" });
  void assertions.sign({ audience: "https://origin.example", claims: user });
  // A key as WebCrypto exports it (its members optional in the types), plus a kid.
  const exported: JsonWebKey = { kty: "OKP", crv: "Ed25519", d: "x", x: "y" };
  void new OriginAssertions({ alg: "EdDSA", issuer: "https://app.example", privateKeys: [{ ...exported, kid: "k1" }] });
  // @ts-expect-error: keys or privateKeys, not both (invalid_config)
  void new OriginAssertions({ alg: "EdDSA", keys, issuer: "https://app.example", privateKeys: [{ ...exported, kid: "k1" }] });
  // @ts-expect-error: keys or privateKeys are required (invalid_config)
  void new OriginAssertions({ alg: "EdDSA", issuer: "https://app.example" });
  const aud: string = verified.aud;
  const kid: string = (await assertions.jwks()).keys[0].kid;
  void aud;
  void kid;
  // @ts-expect-error: no such algorithm
  new OriginAssertions({ alg: "HS256", keys, issuer: "https://app.example" });
}
void asserted;
void new AssertionBuildTokens({ keys });

// DeviceBoundSessions (edge-session/dbsc).
const bound = new DeviceBoundSessions({ keys, boundSeconds: 600 });
async function deviceBound(proof: string): Promise<void> {
  const header: string = bound.registrationHeader("sid", { path: "/dbsc/register" });
  const registered: DeviceRegistration = await bound.verifyRegistration(proof, "sid");
  void bound.verifyRegistration(new Headers().get("secure-session-response"), "sid"); // rejects: malformed
  const jwk: string = registered.jwk;
  const { jkt } = await bound.verifyRefresh(proof, "sid", jwk, { jkt: registered.jkt });
  const ok: boolean = bound.checkBound(bound.boundCookie("sid", jkt), "sid", jkt);
  const config: string = bound.sessionConfig({ sessionId: "sid", refreshUrl: "/r", origin: "https://a.example", cookieName: "b" });
  const end: string = DeviceBoundSessions.endSession();
  void header;
  void ok;
  void config;
  void end;
  // @ts-expect-error: path is required
  bound.registrationHeader("sid", {});
}
void deviceBound;
