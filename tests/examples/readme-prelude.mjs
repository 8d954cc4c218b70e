// What README.md's JavaScript blocks take from their surroundings (a worker's `env`, the
// request, a keyring, a token...), as globals, imported by tests/examples/readme.test.mjs before
// each block runs.
import { SessionTokens } from "edge-session";
import { handleSessionObject } from "edge-session/store";

const secret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");

globalThis.env = { KEY_K1: secret(), KEY_K2: secret(), SESSION_KEY: secret(), SESSION_SECRET: secret() };
env.SESSION_KEYS = JSON.stringify([{ id: "k1", secret: env.SESSION_KEY }]);
env.AFFINITY_SECRET = secret();
// The KV namespace the store blocks bind (`kv: env.SESSIONS`), in memory: what the store uses of
// a KV binding (KvNamespaceLike), without expiry.
const kv = new Map();
env.SESSIONS = {
  get: async (key) => kv.get(key) ?? null,
  put: async (key, value) => void kv.set(key, value),
  delete: async (key) => void kv.delete(key),
  list: async ({ prefix = "" } = {}) => ({
    keys: [...kv.keys()].filter((name) => name.startsWith(prefix)).map((name) => ({ name })),
    list_complete: true,
  }),
};
// The Durable Object namespace they bind (`durableObject: env.SESSION_OBJECTS`), in memory: an
// object per name, each with its own storage, answering with handleSessionObject as the class
// shown in docs/store.md does.
const storage = () => {
  const m = new Map();
  return {
    get: async (key) => m.get(key),
    put: async (key, value) => void m.set(key, value),
    delete: async (key) => m.delete(key),
    list: async ({ prefix = "" } = {}) => new Map([...m].filter(([key]) => key.startsWith(prefix))),
    deleteAll: async () => m.clear(),
    setAlarm: async () => {},
  };
};
const objects = new Map();
env.SESSION_OBJECTS = {
  idFromName: (name) => name,
  get: (id) => {
    if (!objects.has(id)) objects.set(id, storage());
    return { fetch: (url, init) => handleSessionObject(objects.get(id), new Request(url, init)) };
  },
};
globalThis.keys = [{ id: "k2", secret: env.KEY_K2 }, { id: "k1", secret: env.KEY_K1 }];
globalThis.secret = secret();
globalThis.request = new Request("https://example.com/cart?_aff=x", {
  headers: { cookie: "theme=dark; __Host-session=v1", "cf-connecting-ip": "192.0.2.1" },
});
globalThis.tokens = new SessionTokens({ keys, ttlSeconds: 3600 });
globalThis.token = tokens.sign({ sub: "user-12345", role: "admin" });
globalThis.jwtFromElsewhere = tokens.signJwt({ sub: "u1" }, { issuer: "https://id.example", audience: "app" });
globalThis.prefillLogin = () => {};
globalThis.lookupLogoutTime = () => undefined;

// DBSC (edge-session/dbsc): a session id, and a browser holding a device key (ES256, WebCrypto)
// that answers a `Secure-Session-Registration` or `Secure-Session-Challenge` header with its
// signed proof, as Chromium does.
globalThis.sid = "c2Vzc2lvbi1pZA";
const device = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", device.publicKey);
const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
globalThis.browser = {
  async proofFor(header) {
    const registration = header.startsWith("(");
    const jti = registration ? header.match(/challenge="([^"]+)"/)[1] : header.match(/^"([^"]+)"/)[1];
    const input = `${part({ alg: "ES256", typ: "dbsc+jwt", ...(registration ? { jwk: { kty, crv, x, y } } : {}) })}.${part({ jti })}`;
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, device.privateKey, new TextEncoder().encode(input));
    return `${input}.${Buffer.from(sig).toString("base64url")}`;
  },
};

// docs/gateway.md's origin (jose): `req`, a request the gateway forwarded to the origin
// http://10.0.0.1:8080 (its assertion, and the session data the assertion binds), and the
// gateway's JWKS at https://app.example/.well-known/jwks.json, which `fetch` answers here.
const { OriginAssertions } = await import("edge-session/assertion");
const gateway = new OriginAssertions({ alg: "EdDSA", keys, issuer: "https://app.example" });
const data = '{"cart":["book"]}';
const assertion = await gateway.sign({ audience: "http://10.0.0.1:8080", claims: { sub: "alice", sid: "s1" }, data });
globalThis.req = { headers: { "x-session-assertion": assertion, "x-session-data": data } };
const jwks = await gateway.jwks();
const fetchOutside = globalThis.fetch;
globalThis.fetch = (url, init) =>
  String(url) === "https://app.example/.well-known/jwks.json" ? Promise.resolve(Response.json(jwks)) : fetchOutside(url, init);
