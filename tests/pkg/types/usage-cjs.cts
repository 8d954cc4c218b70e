// The CommonJS view of the package (`require`, index.d.cts), type-checked like usage.ts.
import edgeSession = require("edge-session");
import edgeStore = require("edge-session/store");
import edgeAssertion = require("edge-session/assertion");
import edgeDbsc = require("edge-session/dbsc");
import edgeHono = require("edge-session/hono");
import hono = require("hono");

const tokens = new edgeSession.SessionTokens({ keys: [{ id: "k1", secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" }] });
const sub: unknown = tokens.verify(tokens.sign({ sub: "u1" })).sub;
void sub;
const code: edgeSession.ErrorCode = "expired";
void code;
const isError: boolean = edgeSession.isEdgeSessionError(new Error("x"));
void isError;
void new edgeStore.SessionStore({ keys: [] });
const assertions = new edgeAssertion.OriginAssertions({ alg: "ES256", keys: [{ id: "k1", secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" }], issuer: "https://app.example" });
const signed: Promise<string> = assertions.sign({ audience: "https://origin.example" });
void signed;
const challenge: string = new edgeDbsc.DeviceBoundSessions({ keys: [{ id: "k1", secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" }] }).challenge("sid");
void challenge;
const app = new hono.Hono<{ Variables: edgeHono.SessionTokensVariables }>();
app.use(edgeHono.sessionTokens(tokens));
app.get("/", (c) => c.json({ sub: c.get("session")?.sub ?? null }));
