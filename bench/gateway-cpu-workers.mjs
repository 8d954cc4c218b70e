// The workers of bench/gateway-cpu.mjs, all in one workerd (Miniflare), no network: an origin,
// a driver that sends N requests in a row to a target worker through a service binding, and
// (in bench/gateway-cpu.mjs) the gateway and the JS pass-through worker as targets, whose
// outgoing fetches go to the origin (Miniflare's outboundService).

/** A browser's page request, as Chrome sends it (about 1 KB with the Cookie header), for
 * `browser=1`: the size of headers that go into the gateway's wasm on each request. */
const BROWSER_HEADERS = {
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
  "accept-encoding": "gzip, deflate, br, zstd",
  "accept-language": "en-GB,en;q=0.9,de;q=0.8,fr;q=0.7",
  "cache-control": "max-age=0",
  priority: "u=0, i",
  "sec-ch-ua": '"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"',
  "sec-ch-ua-mobile": "?0",
  "sec-ch-ua-platform": '"macOS"',
  "sec-fetch-dest": "document",
  "sec-fetch-mode": "navigate",
  "sec-fetch-site": "same-origin",
  "sec-fetch-user": "?1",
  "upgrade-insecure-requests": "1",
  "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
};
/** The other cookies of such a request: consent and analytics. */
const BROWSER_COOKIES =
  "cookie_consent=necessary%2Canalytics; _ga=GA1.1.1234567890.1764979200; _ga_ABCDEF1234=GS2.1.s1764979200$o3$g1$t1764979260$j60$l0$h0; theme=dark";
/** The headers a web application answers a page request with (`sec-fetch-dest: document`). */
const PAGE_HEADERS = {
  "cache-control": "private, no-cache",
  "content-security-policy": "default-src 'self'; script-src 'self' 'nonce-r4nd0m'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
  "x-content-type-options": "nosniff",
  "referrer-policy": "strict-origin-when-cross-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
  vary: "Accept-Encoding, Cookie",
  etag: 'W/"5d1-1f3a9c2b"',
};

/** The origin: a small JSON answer; `/login` logs the visitor in (`x-session-issue`), `/cart/add`
 * puts data in the session (`x-session-data`, a merge patch). */
export const ORIGIN = `
// What a web application answers a browser's page request with, beside its own headers.
const PAGE = ${JSON.stringify(PAGE_HEADERS)};
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const page = request.headers.get("sec-fetch-dest") === "document";
    const headers = { ...(page ? PAGE : {}), "content-type": "application/json" };
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
 * Set-Cookie values and body. With browser=1 each request carries a browser's headers and
 * cookies besides C (BROWSER_HEADERS). POST /run with a JSON list of N Cookie headers as the body: request
 * i sends the i-th (a different visitor each request). With collect=1 the answer also lists every
 * answer's Set-Cookie values (`all`). */
export const DRIVER = `
const BROWSER = ${JSON.stringify(BROWSER_HEADERS)};
const BROWSER_COOKIES = ${JSON.stringify(BROWSER_COOKIES)};
export default {
  async fetch(request, env) {
    const q = new URL(request.url).searchParams;
    const target = env[q.get("target")];
    const n = Number(q.get("n") || 1);
    const each = request.method === "POST" ? await request.json() : undefined;
    const browser = q.get("browser") === "1";
    const cookie = (c) => (browser ? { ...BROWSER, cookie: [BROWSER_COOKIES, c].filter(Boolean).join("; ") } : c ? { cookie: c } : {});
    const one = cookie(q.get("cookie"));
    const url = "https://gateway.example" + (q.get("path") || "/");
    const collect = q.get("collect") === "1";
    const statuses = {};
    const all = [];
    let last;
    for (let i = 0; i < n; i++) {
      const headers = each ? cookie(each[i]) : one;
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
