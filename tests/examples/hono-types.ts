// Type-checked by tests/examples/examples.test.mjs (`tsc --noEmit`) in the examples/hono project,
// against the published .d.ts of edge-session, edge-session/store, edge-session/hono and hono.
import { Hono, type MiddlewareHandler } from "hono";
import { Affinity, SessionTokens } from "edge-session";
import { SessionStore, type Session } from "edge-session/store";
import {
  affinity,
  login,
  logout,
  sessionStore,
  sessionTokens,
  type SessionStoreVariables,
  type SessionTokensVariables,
} from "edge-session/hono";

const keys = [{ id: "k1", secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA" }];

// Session tokens: the middleware's variables flow into the handlers.
const tokens = new SessionTokens({ keys });
type Claims = { sub: string; role: string; iat: number; exp: number };
const withTokens = new Hono().use(sessionTokens<Claims>(tokens, { minIssuedAt: async () => undefined }));
withTokens.get("/", (c) => {
  const claims = c.get("session");
  const role: string | undefined = claims?.role;
  // @ts-expect-error the session may be null
  const sub: string = c.get("session").sub;
  const error: string | undefined = c.get("sessionError");
  // @ts-expect-error sessionError is an ErrorCode: a misspelt one is caught
  const misspelt = c.get("sessionError") === "expird";
  return c.json({ role, sub, error, misspelt });
});
withTokens.post("/login", (c) => {
  const token: string | Promise<void> = login(c, { sub: "alice", role: "admin" });
  void login(c, { uid: 42 }); // any claims under sessionTokens
  return c.text(String(token));
});
withTokens.post("/logout", async (c) => {
  await logout(c);
  return c.text("bye");
});

// Stored sessions.
const store = new SessionStore({ keys });
const withStore = new Hono<{ Variables: SessionStoreVariables }>();
withStore.use(sessionStore(store));
withStore.get("/", async (c) => {
  const session: Session = c.get("session");
  session.set("n", 1);
  await login(c, "bob");
  await logout(c, { everywhere: true });
  return c.json({ subject: session.subject ?? null });
});

// Two session middlewares on one route, each under a variable of its own: the cart and the
// account side by side, each with its own type (with one name, the types would make it both).
const named = new Hono()
  .use(sessionStore(store, { variable: "cart" }))
  .use(sessionTokens(tokens, { variable: "account" }));
named.get("/", (c) => {
  const cart: Session = c.get("cart");
  const account = c.get("account");
  const sub: string | undefined = account?.sub;
  const error: string | undefined = c.get("accountError");
  // @ts-expect-error the account's claims may be null
  const iat: number = c.get("account").iat;
  // @ts-expect-error no middleware here sets "session"
  c.get("session");
  return c.json({ items: cart.get("items") ?? null, sub, error, iat });
});
// With type arguments, the name comes last (left out, no name type-checks); login can name the
// middleware it logs in under.
// @ts-expect-error the variable's name is given among the type arguments, or none is
sessionTokens<Claims>(tokens, { variable: "account" });
const typedNames = new Hono()
  .use(sessionTokens<Claims, {}, "account">(tokens, { variable: "account" }))
  .use(sessionStore(store, { variable: "cart" }));
typedNames.post("/login", (c) => {
  const role: string | undefined = c.get("account")?.role;
  const token = login(c, { sub: "alice", role: "admin" }, { variable: "account" });
  // @ts-expect-error login's options are { variable }
  login(c, "alice", { cookie: "x" });
  return c.json({ role, token: typeof token });
});

// Affinity.
const router = new Affinity({ secret: keys[0].secret, backends: [{ id: "a" }, { id: "b" }] });
const proxy = new Hono().use(affinity(router, { header: "x-tenant" }));
proxy.get("*", (c) => {
  const backend: string = c.get("backend");
  const reassigned: boolean = c.get("route").reassigned;
  return c.json({ backend, reassigned });
});

// A Variables type a user may declare themselves.
export type AppVariables = SessionTokensVariables<Claims>;

// An app with typed bindings making its middleware at the first request (it needs `c.env`), as
// README does: the app's env is given, and the middleware's context is the app's.
type AppEnv = { Bindings: { SESSIONS: KVNamespaceLike; SESSION_SECRET: string }; Variables: SessionStoreVariables };
type KVNamespaceLike = { get(key: string): Promise<string | null> };
const typed = new Hono<AppEnv>();
let sessions: MiddlewareHandler<AppEnv> | undefined;
typed.use((c, next) => {
  const secret: string = c.env.SESSION_SECRET;
  sessions ??= sessionStore<AppEnv>(new SessionStore({ keys: [{ id: "k1", secret }] }));
  return sessions(c, next);
});
typed.get("/", (c) => {
  const session: Session = c.get("session");
  return c.json({ subject: session.subject ?? null, kv: typeof c.env.SESSIONS });
});
// And a middleware used directly keeps the app's bindings typed in the routes after it.
const direct = new Hono<{ Bindings: { ORIGIN: string } }>().use(sessionStore(store));
direct.get("/", (c) => {
  const origin: string = c.env.ORIGIN;
  const session: Session = c.get("session");
  return c.json({ origin, subject: session.subject ?? null });
});
