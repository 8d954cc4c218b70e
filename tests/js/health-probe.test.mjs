// The gateway's cron probes (src/gateway/worker/probe.mjs) under the platform's limit of six
// connections waiting for response headers, which wrangler dev does not hold: emulated here by a
// `fetch` that queues a seventh until one of six gets its headers or is aborted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { probe_all } from "../../src/gateway/worker/probe.mjs";

/** A `fetch` holding at most six requests waiting for headers; `hangs(url)` never answer. */
function sixAtOnce(hangs) {
  let waiting = 0;
  const queue = [];
  return (url, init) =>
    new Promise((resolve, reject) => {
      let started = false;
      let done = false;
      const finish = (settle) => {
        if (done) return;
        done = true;
        if (started) {
          waiting--;
          queue.shift()?.();
        } else {
          queue.splice(queue.indexOf(start), 1);
        }
        settle();
      };
      const start = () => {
        started = true;
        waiting++;
        if (!hangs(url)) setTimeout(() => finish(() => resolve(new Response("ok"))), 5);
      };
      init.signal.addEventListener("abort", () => finish(() => reject(init.signal.reason)));
      if (waiting < 6) start();
      else queue.push(start);
    });
}

test("behind six origins that do not answer, the others are probed on their own time", async (t) => {
  const real = globalThis.fetch;
  // Node's AbortSignal.timeout does not keep the process alive; the hung probes wait for it.
  const alive = setInterval(() => {}, 1000);
  t.after(() => {
    globalThis.fetch = real;
    clearInterval(alive);
  });
  globalThis.fetch = sixAtOnce((url) => url.includes("hung"));
  const urls = [...Array.from({ length: 6 }, (_, i) => `http://hung${i}/health`), "http://a/health", "http://b/health"];
  // Every probe at once (as before): the last two time out in the queue, answering origins.
  const atOnce = await probe_all(urls, 300, urls.length);
  assert.equal(typeof atOnce[6][0], "string", JSON.stringify(atOnce));
  assert.equal(typeof atOnce[7][0], "string", JSON.stringify(atOnce));
  const results = await probe_all(urls, 300);
  assert.equal(results.length, urls.length);
  for (const [outcome] of results.slice(0, 6)) assert.equal(typeof outcome, "string", JSON.stringify(results));
  assert.equal(results[6][0], 200, JSON.stringify(results));
  assert.equal(results[7][0], 200, JSON.stringify(results));
  assert.deepEqual(await probe_all([], 300), []);
});

test("probes bypass caches and follow no redirect: a cached answer of HEALTH_PATH never stands for the origin's", async (t) => {
  // Anonymous requests through the gateway are fetched as the origin's cache headers say, keyed
  // by the origin's URL (docs/gateway.md, "What the origin sees"): a client's GET of HEALTH_PATH
  // is the probe's URL. A probe answered from such a cache reports a 200 the origin may no longer
  // give (down, it stays up everywhere), or a 404/429 a client's request left there (up, it is
  // marked down everywhere).
  const real = globalThis.fetch;
  t.after(() => {
    globalThis.fetch = real;
  });
  const seen = [];
  globalThis.fetch = async (url, init) => {
    seen.push({ url, cache: init.cache, redirect: init.redirect });
    return new Response("ok");
  };
  const results = await probe_all(["http://a/health", "http://b/health"], 300);
  assert.deepEqual(results.map(([status]) => status), [200, 200]);
  assert.deepEqual(seen, [
    { url: "http://a/health", cache: "no-store", redirect: "manual" },
    { url: "http://b/health", cache: "no-store", redirect: "manual" },
  ]);
});

test("probes carry the gateway's loop tag for the URL as the request will have it (entry.mjs)", async (t) => {
  const real = globalThis.fetch;
  const HOP = Symbol.for("edge-session.hop");
  t.after(() => {
    globalThis.fetch = real;
    delete globalThis[HOP];
  });
  const seen = [];
  globalThis.fetch = async (url, init) => {
    seen.push(init.headers?.["x-session-hop"]);
    return new Response("ok");
  };
  await probe_all(["http://A.example:80/./health"], 300);
  globalThis[HOP] = (url) => `tag.${url}`;
  await probe_all(["http://A.example:80/./health"], 300);
  assert.deepEqual(seen, [undefined, "tag.http://a.example/health"]);
});
