// What README.md's JavaScript blocks take from their surroundings (a worker's `env`, the
// request, a keyring, a token...), as globals, imported by tests/examples/readme.test.mjs before
// each block runs.
import { SessionTokens } from "edge-session";

const secret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");

globalThis.env = { KEY_K1: secret(), KEY_K2: secret(), SESSION_KEY: secret(), SESSION_SECRET: secret() };
env.SESSION_KEYS = JSON.stringify([{ id: "k1", secret: env.SESSION_KEY }]);
env.AFFINITY_SECRET = secret();
globalThis.keys = [{ id: "k2", secret: env.KEY_K2 }, { id: "k1", secret: env.KEY_K1 }];
globalThis.secret = secret();
globalThis.request = new Request("https://example.com/cart?_aff=x", {
  headers: { cookie: "theme=dark; __Host-session=v1", "cf-connecting-ip": "192.0.2.1" },
});
globalThis.tokens = new SessionTokens({ keys, ttlSeconds: 3600 });
globalThis.token = tokens.sign({ sub: "user-12345", role: "admin" });
globalThis.jwtFromElsewhere = tokens.signJwt({ sub: "u1" }, { issuer: "https://id.example", audience: "app" });
globalThis.offerRefresh = () => {};
globalThis.lookupLogoutTime = () => undefined;
