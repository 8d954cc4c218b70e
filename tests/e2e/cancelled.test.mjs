// The gateway's memory over an instance's life. Requests their clients give up on. When a client goes away before the answer, workerd cancels
// what the request awaits (the origin's fetch, a store read): a promise that never settles. The
// gateway's handlers that await in Rust (with a store, with ORIGIN_ASSERTION, a retry) are
// futures that wasm-bindgen frees only when what they await settles: each cancelled request
// kept about 5 KB of wasm memory for good, an instance's 128 MB in some 25,000 of them. They
// are kept by `waitUntil` now (src/gateway/worker/mod.rs `later`), so what they await settles.
// The gateway (build/, `make gateway`) runs in workerd (Miniflare) behind a probe module that
// shows its wasm memory; a driver worker sends requests through a service binding and aborts
// each after 30 ms, while the origin takes 300 ms.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";

import { ROOT, gatewayOptions } from "./harness.mjs";

const ORIGINS = JSON.stringify([{ id: "a", url: "http://origin.internal", weight: 1 }]);

// The glue instantiates the wasm: its exports (the memory) are kept for /__mem. Imports run in
// order, so the patch is in place before the gateway's module instantiates.
const PATCH = `
const instantiate = WebAssembly.instantiate;
const Instance = WebAssembly.Instance;
WebAssembly.Instance = new Proxy(Instance, {
  construct(t, a, nt) { const i = Reflect.construct(t, a, nt); globalThis.__exports = i.exports; return i; },
});
WebAssembly.instantiate = async function (...a) {
  const r = await instantiate.apply(this, a);
  globalThis.__exports = (r.instance ?? r).exports;
  return r;
};
`;
const PROBE = `
import "./patch.mjs";
import gateway from "./worker/shim.mjs";
export { EdgeSessionObject } from "./worker/shim.mjs";
export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__mem") {
      const memory = Object.values(globalThis.__exports ?? {}).find((v) => v instanceof WebAssembly.Memory);
      return Response.json({ bytes: memory?.buffer.byteLength ?? 0 });
    }
    return gateway.fetch(request, env, ctx);
  },
};
`;

const ORIGIN = `export default {
  async fetch(request) {
    await new Promise((r) => setTimeout(r, 300));
    return new Response("late", { headers: { "content-type": "text/plain" } });
  },
};`;

// n requests, 20 at a time, each aborted after 30 ms.
const DRIVER = `export default {
  async fetch(request, env) {
    const n = Number(new URL(request.url).searchParams.get("n"));
    if (!n) return env.gw.fetch("https://gateway.example/__mem");
    let aborted = 0;
    const one = async (i) => {
      const signal = AbortSignal.timeout(30);
      try {
        const res = await env.gw.fetch("https://gateway.example/slow?i=" + i, { signal });
        await res.text();
      } catch { aborted++; }
    };
    for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => one(i + k)));
    return Response.json({ aborted });
  },
};`;

const dirs = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

for (const [name, settings] of [
  ["a store (STORE=kv)", { STORE: "kv" }],
  ["ORIGIN_ASSERTION", { ORIGIN_ASSERTION: "EdDSA" }],
]) {
  test(`cancelled requests leave no wasm memory behind, with ${name}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-cancelled-"));
    dirs.push(dir);
    mkdirSync(join(dir, "worker"));
    for (const f of ["index.js", "index_bg.wasm", "worker/shim.mjs"]) cpSync(join(ROOT, "build", f), join(dir, f));
    writeFileSync(join(dir, "patch.mjs"), PATCH);
    writeFileSync(join(dir, "probe.mjs"), PROBE);
    const mf = new Miniflare({
      workers: [
        { name: "driver", modules: true, script: DRIVER, compatibilityDate: "2026-04-01", serviceBindings: { gw: "gateway" } },
        {
          name: "gateway",
          ...gatewayOptions(
            { ORIGINS, ...settings },
            {
              modulesRoot: dir,
              scriptPath: join(dir, "probe.mjs"),
              kvNamespaces: ["EDGE_HEALTH", "SESSIONS"],
              durableObjects: { SESSION_OBJECTS: "EdgeSessionObject" },
              outboundService: "origin",
            },
          ),
        },
        { name: "origin", modules: true, script: ORIGIN, compatibilityDate: "2026-04-01" },
      ],
    });
    try {
      const batch = async () => {
        const { aborted } = await (await mf.dispatchFetch("http://driver.internal/?n=400")).json();
        assert.equal(aborted, 400, "every request was cancelled before its answer");
        await new Promise((r) => setTimeout(r, 600)); // the origin's answers, which nobody reads
        return (await (await mf.dispatchFetch("http://driver.internal/")).json()).bytes;
      };
      const first = await batch();
      assert.ok(first > 0, "the probe sees the gateway's memory");
      await batch();
      const third = await batch();
      // Before: about 2 MB more for each batch of 400; the memory grows by 64 KiB pages.
      assert.ok(third - first <= 256 * 1024, `wasm memory ${first} B after 400 cancelled requests, ${third} B after 1,200`);
    } finally {
      await mf.dispose();
    }
  });
}

// The state of a request waiting for its origin is freed by the garbage collector, through a
// FinalizationRegistry, which workerd has from compatibility date 2025-05-05: without it, every
// proxied request stays in the wasm memory. The gateway says so in its log.
test("a runtime without FinalizationRegistry (compatibility date before 2025-05-05) is warned of", async () => {
  for (const [date, warned] of [["2025-05-04", true], ["2025-05-05", false]]) {
    let log = "";
    const mf = new Miniflare({
      workers: [
        {
          name: "gateway",
          ...gatewayOptions({ ORIGINS }, { compatibilityDate: date, kvNamespaces: ["EDGE_HEALTH"], outboundService: "origin" }),
        },
        { name: "origin", modules: true, script: `export default { fetch: () => new Response("ok") };`, compatibilityDate: "2026-04-01" },
      ],
      handleRuntimeStdio(stdout, stderr) {
        stdout.on("data", (chunk) => (log += chunk));
        stderr.on("data", (chunk) => (log += chunk));
      },
    });
    try {
      assert.equal((await mf.dispatchFetch("https://gateway.example/")).status, 200, date);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(/no FinalizationRegistry \(compatibility_date before 2025-05-05\)/.test(log), warned, `${date}: ${log}`);
    } finally {
      await mf.dispose();
    }
  }
});
