// The cron's health probes (src/gateway/worker/health.rs), in JavaScript: no wasm to carry.
//
// A Workers invocation has at most six connections waiting for response headers and queues the
// others until one gets its headers (developers.cloudflare.com/workers/platform/limits/,
// simultaneous open connections; wrangler dev does not hold them). Every probe started at once,
// a probe's timeout ran while it waited in that queue: behind six origins that do not answer,
// every other origin timed out and was marked down everywhere. So six lanes at most, each taking
// the next origin when its probe ends, and a probe's timeout and time start with it.
//
// `cache: "no-store"`: a cache between the gateway and the origin (Cloudflare's, for a Worker's
// subrequest, where the origin's zone caches HEALTH_PATH) keys by URL, and a client's GET of
// HEALTH_PATH through the gateway is the probe's URL: a probe answered from it would report a 200
// the origin may no longer give, or an error a client's request left there, at every location.

/**
 * Probes each URL (`redirect: "manual"`, `cache: "no-store"`, the body dropped), `atOnce` at a time, each within
 * `timeoutMs`: per URL, in order, `[status, ms]`, or `[error message, ms]` when it got no answer.
 */
export function probe_all(urls, timeoutMs, atOnce = 6) {
  const results = new Array(urls.length);
  let next = 0;
  async function lane() {
    while (next < urls.length) {
      const i = next++;
      const started = Date.now();
      try {
        const init = { signal: AbortSignal.timeout(timeoutMs), redirect: "manual", cache: "no-store" };
        // This deployment's tag and the URL's, as the request will have it (entry.mjs): a
        // probe that comes back to the gateway at this URL is a loop.
        const hop = globalThis[Symbol.for("edge-session.hop")];
        if (hop) init.headers = { "x-session-hop": hop(new URL(urls[i]).href) };
        const response = await fetch(urls[i], init);
        response.body?.cancel().catch(() => {});
        results[i] = [response.status, Date.now() - started];
      } catch (e) {
        const message = e instanceof Error ? e.message : typeof e === "string" ? e : "unknown error";
        results[i] = [message, Date.now() - started];
      }
    }
  }
  const lanes = Array.from({ length: Math.min(atOnce, urls.length) }, lane);
  return Promise.all(lanes).then(() => results);
}
