// Panic recovery of the gateway's entry (src/gateway/worker/entry.mjs, build/worker/shim.mjs):
// a wasm trap (WebAssembly.RuntimeError: what a Rust panic becomes) thrown by the fetch handler,
// or rejecting the promise it returned, marks the module broken, and the next request
// re-instantiates it (worker-build's reset) before it is served. The gateway (build/, `make
// gateway`) runs in workerd (Miniflare) behind a probe module that can make the handler trap
// (it wraps the handler the entry calls) and shows worker-build's recovery state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";

import { MODULE_RULES, ROOT } from "./harness.mjs";

const PROBE = `
import gateway from "./worker/shim.mjs";
import Shimmed from "./index.js";
export { EdgeSessionObject } from "./worker/shim.mjs";

const handler = Shimmed.prototype.fetch;
Shimmed.prototype.fetch = function (request) {
  const path = new URL(request.url).pathname;
  if (path === "/__trap") throw new WebAssembly.RuntimeError("unreachable (test)");
  if (path === "/__trap-later") return Promise.reject(new WebAssembly.RuntimeError("unreachable (test)"));
  return handler.call(this, request);
};

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__state") return Response.json(globalThis.__worker_init_state);
    return gateway.fetch(request, env, ctx);
  },
};
`;

const ORIGIN = `export default { fetch: (r) => Response.json({ path: new URL(r.url).pathname }) };`;

let mf;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "edge-panic-"));
  mkdirSync(join(dir, "worker"));
  for (const f of ["index.js", "index_bg.wasm", "worker/shim.mjs"]) cpSync(join(ROOT, "build", f), join(dir, f));
  writeFileSync(join(dir, "probe.mjs"), PROBE);
  mf = new Miniflare({
    workers: [
      {
        name: "gateway",
        modules: true,
        modulesRoot: dir,
        scriptPath: join(dir, "probe.mjs"),
        modulesRules: MODULE_RULES,
        compatibilityDate: "2026-04-01",
        bindings: {
          ORIGINS: JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]),
          STORE: "none",
          SESSION_KEYS: JSON.stringify([{ id: "k1", secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA" }]),
        },
        kvNamespaces: ["EDGE_HEALTH"],
        outboundService: "origin",
      },
      { name: "origin", modules: true, script: ORIGIN, compatibilityDate: "2026-04-01" },
    ],
  });
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const get = (path) => mf.dispatchFetch(`https://gateway.example${path}`);
const state = async () => (await get("/__state")).json();

async function proxied() {
  const res = await get("/page");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { path: "/page" });
}

for (const trap of ["/__trap", "/__trap-later"]) {
  test(`a wasm trap (${trap === "/__trap" ? "thrown" : "a rejected promise"}) re-instantiates the module before the next request`, async () => {
    await proxied();
    const { instanceId } = await state();
    assert.equal((await state()).criticalError, false);
    const res = await get(trap);
    await res.arrayBuffer();
    assert.equal(res.status, 500);
    assert.deepEqual(await state(), { criticalError: true, instanceId });
    // The next request re-instantiates the module first (worker-build's reset counts instances
    // in instanceId: it moves on), then is served by the new instance, which stays.
    await proxied();
    const renewed = await state();
    assert.equal(renewed.criticalError, false);
    assert.ok(renewed.instanceId > instanceId, `instanceId ${renewed.instanceId}, was ${instanceId}`);
    await proxied();
    assert.deepEqual(await state(), renewed);
  });
}
