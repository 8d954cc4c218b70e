// A Hono app that proxies a WebSocket to its backend (tests/pkg/pkg.test.mjs, in workerd): the
// affinity middleware's cookie goes on the handshake (101) that the backend's fetch returned,
// whose headers are immutable.
import { Hono } from "hono";
import { Affinity } from "edge-session";
import { affinity } from "edge-session/hono";

let router;
const app = new Hono();
app.use((c, next) => {
  router ??= new Affinity({ secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA", backends: [{ id: "a" }] });
  return affinity(router)(c, next);
});
app.get("/", (c) => c.env.BACKEND.fetch(c.req.raw));
export default app;
