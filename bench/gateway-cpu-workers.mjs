// The workers of bench/gateway-cpu.mjs, all in one workerd (Miniflare), no network: an origin,
// a driver that sends N requests in a row to a target worker through a service binding, and
// (in bench/gateway-cpu.mjs) the gateway and the JS pass-through worker as targets, whose
// outgoing fetches go to the origin (Miniflare's outboundService).

/** The origin: a small JSON answer; `/login` logs the visitor in (`x-session-issue`), `/cart/add`
 * puts data in the session (`x-session-data`, a merge patch). */
export const ORIGIN = `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const headers = { "content-type": "application/json" };
    if (url.pathname === "/login") headers["x-session-issue"] = '{"sub":"user-12345","role":"admin"}';
    if (url.pathname === "/cart/add") headers["x-session-data"] = '{"cart":["book","pen"]}';
    const body = JSON.stringify({
      path: url.pathname,
      status: request.headers.get("x-session-status"),
      assertion: request.headers.has("x-session-assertion"),
    });
    return new Response(body, { headers });
  },
};
`;

/** The driver: GET /run?target=T&path=P&n=N&cookie=C sends N requests to the service binding T,
 * one after another, reading each body; answers with the statuses seen and the last answer's
 * Set-Cookie values and body. POST /run with a JSON list of N Cookie headers as the body: request
 * i sends the i-th (a different visitor each request). With collect=1 the answer also lists every
 * answer's Set-Cookie values (`all`). */
export const DRIVER = `
export default {
  async fetch(request, env) {
    const q = new URL(request.url).searchParams;
    const target = env[q.get("target")];
    const n = Number(q.get("n") || 1);
    const each = request.method === "POST" ? await request.json() : undefined;
    const one = q.get("cookie") ? { cookie: q.get("cookie") } : {};
    const url = "https://gateway.example" + (q.get("path") || "/");
    const collect = q.get("collect") === "1";
    const statuses = {};
    const all = [];
    let last;
    for (let i = 0; i < n; i++) {
      const headers = each ? { cookie: each[i] } : one;
      const res = await target.fetch(url, { headers });
      const text = await res.text();
      statuses[res.status] = (statuses[res.status] || 0) + 1;
      if (collect) all.push(res.headers.getSetCookie());
      if (i === n - 1) last = { cookies: res.headers.getSetCookie(), body: text };
    }
    return Response.json({ statuses, last, all });
  },
};
`;

/** A JS worker that does the gateway's plumbing and nothing else: every request header read and
 * copied into new Headers (hop-by-hop ones dropped, x-forwarded-* added), a new Request to the
 * origin (redirect: manual), the answer's headers copied into a new Response around its body.
 * No cookies, no tokens, no routing: what any header-rewriting proxy pays in workerd. */
export const REWRITE = `
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"]);
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const origin = JSON.parse(env.ORIGINS)[0].url;
    const headers = new Headers();
    for (const [name, value] of request.headers) if (!HOP.has(name)) headers.append(name, value);
    headers.set("x-forwarded-host", url.host);
    headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
    headers.set("x-session-status", "none");
    const answer = await fetch(origin + url.pathname + url.search, {
      method: request.method, headers, body: request.body, redirect: "manual",
    });
    const out = new Headers();
    for (const [name, value] of answer.headers) if (!HOP.has(name)) out.append(name, value);
    return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: out });
  },
};
`;
