// Runs the built gateway on the real local runtime (wrangler dev: workerd, local KV) in front of
// demo origins, all on free 127.0.0.1 ports, for the end-to-end tests and the load benchmark.
//
// The gateway must be built first (`make gateway`, which writes build/; the test build with the
// store conformance suite, TEST_SHIM, by `make gateway-test` into build-test/). Each run gets its own
// wrangler config, .dev.vars and KV directory in a temporary directory, so it neither rebuilds
// nor touches the developer's .dev.vars or .wrangler/.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SHIM = join(ROOT, "build/worker/shim.mjs");
/** The gateway's test build (`make gateway-test`): adds `/__edge/store/conformance`. */
export const TEST_SHIM = join(ROOT, "build-test/worker/shim.mjs");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Miniflare's module rules for a worker of wasm-bindgen's output: the glue and the entry are
 * ES modules, the wasm compiled (the tests that run workerd through Miniflare, not wrangler). */
export const MODULE_RULES = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];

/**
 * Miniflare's options for the built gateway (build/worker/shim.mjs) in workerd, its config vars
 * `bindings` (SESSION_KEYS a test key unless given) and `more` options (KV namespaces...).
 */
export const gatewayOptions = (bindings, more = {}) => ({
  modules: true,
  scriptPath: SHIM,
  modulesRules: MODULE_RULES,
  compatibilityDate: "2026-04-01",
  bindings: { SESSION_KEYS: JSON.stringify([{ id: "k1", secret: randomBytes(32).toString("base64url") }]), ...bindings },
  ...more,
});

/** Ports `freePort` handed out in this process, each only once. */
const handedOut = new Set();

/**
 * A free TCP port on 127.0.0.1, never one handed out before in this process: gateways started at
 * once (their port and inspector port each) bind theirs a little later, and the system may give
 * a port just closed here again. Two of them could then share one, and a test talk to the wrong
 * server: once, every request to the third gateway of tests/e2e/origin-assertion.test.mjs got a
 * 404, with none of the two others failing.
 */
export async function freePort() {
  for (;;) {
    const port = await new Promise((ok, fail) => {
      const srv = createServer();
      srv.on("error", fail);
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address();
        srv.close(() => ok(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Linux: whether a process of process group `pgid` listens on TCP `port` (IPv4), from /proc;
 * `undefined` where /proc cannot tell.
 */
function listensOn(pgid, port) {
  let table;
  try {
    table = readFileSync("/proc/net/tcp", "utf8");
  } catch {
    return undefined;
  }
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const sockets = new Set(
    table
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(hex) && f[3] === "0A") // local address, state LISTEN
      .map((f) => `socket:[${f[9]}]`), // its inode
  );
  if (sockets.size === 0) return false;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) !== pgid) continue;
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        if (sockets.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return true;
      }
    } catch {} // a process that just ended
  }
  return false;
}

/** Polls `url` until it answers (any status) or `ms` pass. */
export async function waitFor(url, ms, what = url) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res;
    } catch (e) {
      last = e;
      await sleep(100);
    }
  }
  throw new Error(`${what} did not answer within ${ms} ms: ${last?.message}`);
}

/**
 * A demo origin process (scripts/demo-origin.mjs). Its first start listens on a port the system
 * gives it (a port chosen here and bound later could be taken in between by a process starting
 * beside it); a restart after `kill()` takes the same port again, as a restarted server would.
 */
export class Origin {
  constructor(id) {
    Object.assign(this, { id, port: 0, url: "", proc: null });
  }

  async start() {
    this.proc = spawn(process.execPath, [join(ROOT, "scripts/demo-origin.mjs"), this.id, String(this.port)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    this.port = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`origin ${this.id} did not listen within 30 s: ${out}`)), 30_000);
      const read = (chunk) => {
        out += chunk;
        const m = out.match(/on http:\/\/127\.0\.0\.1:(\d+)/);
        if (m) {
          clearTimeout(timer);
          ok(Number(m[1]));
        }
      };
      this.proc.stdout.on("data", read);
      this.proc.stderr.on("data", (chunk) => (out += chunk));
      this.proc.once("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`origin ${this.id} exited (${code}) before listening: ${out}`));
      });
    });
    // Its later output is read and dropped (a full pipe would stall it).
    this.proc.stdout.removeAllListeners("data").resume();
    this.proc.stderr.removeAllListeners("data").resume();
    this.proc.removeAllListeners("exit");
    this.url = `http://127.0.0.1:${this.port}`;
    await waitFor(`${this.url}/health`, 30_000, `origin ${this.id}`);
  }

  /** Kills the process outright (SIGKILL), as a crash would, and waits for it to be gone. */
  async kill() {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await gone;
  }
}

/** A cookie jar for one visitor: remembers Set-Cookie, sends Cookie. */
export class Jar {
  constructor() {
    this.cookies = new Map();
  }

  header() {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join("; ");
  }

  /** Stores the response's cookies; returns the Set-Cookie values it carried. */
  take(res) {
    const set = res.headers.getSetCookie();
    for (const line of set) {
      const [pair, ...attrs] = line.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return set;
  }
}

/** The gateway under `wrangler dev`, in front of `origins` (or another worker: `main`). */
export class Gateway {
  constructor(origins, { vars = {}, secrets = {}, main = SHIM, toml = [], logLevel = "warn" } = {}) {
    this.origins = origins;
    this.logLevel = logLevel; // wrangler's --log-level: "log" keeps the worker's console.log too
    this.main = main;
    this.vars = vars;
    this.toml = toml; // extra wrangler.toml lines (bindings), written before [vars]
    this.operatorToken = randomBytes(18).toString("base64url");
    this.secrets = {
      SESSION_KEYS: JSON.stringify([{ id: "k1", secret: randomBytes(32).toString("base64url") }]),
      OPERATOR_TOKEN: this.operatorToken,
      ...secrets,
    };
    this.log = "";
  }

  /**
   * Starts wrangler dev and waits until the gateway answers. A start that fails (two free ports
   * taken by another process before wrangler bound them, a machine too loaded to answer in time)
   * is said on stderr and tried once more on new ports; a second failure throws with wrangler's
   * output.
   */
  async start() {
    if (!existsSync(this.main)) throw new Error(`${this.main} is missing: build the gateway first (make gateway, make gateway-test)`);
    try {
      await this.#launch();
    } catch (e) {
      console.error(`wrangler dev did not start; once more on new ports. ${e.message}`);
      this.log = "";
      await this.#launch();
    }
  }

  async #launch() {
    this.port = await freePort();
    const inspector = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.dir = mkdtempSync(join(tmpdir(), "edge-gateway-"));
    const origins = this.origins.map((o) => ({ id: o.id, url: o.url, weight: 1 }));
    const vars = { ORIGINS: JSON.stringify(origins), ...this.vars };
    const toml = [
      `name = "edge-session-gateway-test"`,
      `main = ${JSON.stringify(this.main)}`,
      `compatibility_date = "2026-04-01"`,
      `[[kv_namespaces]]`,
      `binding = "EDGE_HEALTH"`,
      `id = "edge-health-test"`,
      `[triggers]`,
      `crons = ["* * * * *"]`,
      ...this.toml,
      `[vars]`,
      // A value is written as a TOML string, or as it is given with `{ toml: "5000" }` (a TOML
      // number, table or array: what the runtime then hands the worker is no text).
      ...Object.entries(vars).map(([k, v]) => `${k} = ${v?.toml ?? JSON.stringify(String(v))}`),
    ].join("\n");
    writeFileSync(join(this.dir, "wrangler.toml"), toml + "\n");
    writeFileSync(
      join(this.dir, ".dev.vars"),
      Object.entries(this.secrets).map(([k, v]) => `${k}=${v}\n`).join(""),
    );
    this.proc = spawn(
      process.execPath,
      [
        WRANGLER, "dev",
        "--config", join(this.dir, "wrangler.toml"),
        "--ip", "127.0.0.1",
        "--port", String(this.port),
        "--inspector-port", String(inspector),
        "--persist-to", join(this.dir, "state"),
        "--test-scheduled",
        "--show-interactive-dev-session=false",
        "--log-level", this.logLevel,
      ],
      {
        cwd: this.dir,
        detached: true, // its own process group: stop() ends wrangler and workerd together
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: "false",
          WRANGLER_LOG_PATH: join(this.dir, "logs"),
          // A dev registry of its own. Every gateway here runs under one worker name, and the
          // registry is shared by default (~/.config/.wrangler/registry): a gateway bound to a
          // script that does not exist (`script_name = "edge-session-nowhere"`, the store-down
          // tests) watches it while the others write their entries over each other's. No test
          // reaches another dev session through it.
          WRANGLER_REGISTRY_PATH: join(this.dir, "registry"),
          NO_COLOR: "1",
        },
      },
    );
    const keep = (chunk) => {
      this.log = (this.log + chunk).slice(-20_000);
    };
    this.proc.stdout.on("data", keep);
    this.proc.stderr.on("data", keep);
    try {
      await waitFor(`${this.url}/__edge/ready`, 120_000, "wrangler dev");
      await this.#servesPort();
    } catch (e) {
      await this.stop();
      throw new Error(`${e.message}\n--- wrangler output ---\n${this.log}`);
    }
  }

  /**
   * Resolves once this wrangler's own processes (its process group: workerd) listen on its port,
   * at once where /proc cannot tell; rejects when wrangler ends first. The answer `waitFor` took
   * may be another server's, on a port taken between `freePort` and wrangler's start: wrangler
   * then ends with "Address already in use", and `start` launches again on new ports.
   */
  async #servesPort() {
    const proc = this.proc;
    const deadline = Date.now() + 60_000;
    while (listensOn(proc.pid, this.port) === false) {
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
        throw new Error(`wrangler dev does not serve port ${this.port}`);
      }
      await sleep(100);
    }
  }

  async stop() {
    const proc = this.proc;
    this.proc = null;
    if (proc && proc.exitCode === null) {
      const gone = new Promise((r) => proc.once("exit", r));
      try {
        process.kill(-proc.pid, "SIGTERM");
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(-proc.pid, "SIGKILL");
        } catch {}
      }, 5000);
      await gone;
      clearTimeout(timer);
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** GET (or `init.method`) through the gateway with `jar`'s cookies; stores new cookies. */
  async request(path, jar = new Jar(), init = {}) {
    const headers = { ...(init.headers || {}) };
    const cookie = jar.header();
    if (cookie && !headers.cookie) headers.cookie = cookie;
    const res = await fetch(this.url + path, { redirect: "manual", ...init, headers });
    const setCookies = jar.take(res);
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, setCookies, text, body };
  }

  /**
   * Waits until the gateway's log (wrangler's output, which arrives after the answers it
   * belongs to, later still on a loaded machine) matches `re`, or `ms` pass; then `settle` ms
   * more for lines that would follow it. Returns the log.
   */
  async logged(re, { ms = 10_000, settle = 300 } = {}) {
    const once = new RegExp(re.source, re.flags.replace("g", "")); // test() with g is stateful
    const deadline = Date.now() + ms;
    while (!once.test(this.log) && Date.now() < deadline) await sleep(50);
    await sleep(settle);
    return this.log;
  }

  /** Runs the cron trigger once (wrangler dev --test-scheduled). */
  async cron() {
    const res = await fetch(`${this.url}/__scheduled`);
    return res.text();
  }

  /** The operator's health report. */
  async health() {
    const res = await fetch(`${this.url}/__edge/health`, {
      headers: { authorization: `Bearer ${this.operatorToken}` },
    });
    return res.json();
  }
}

/** wrangler.toml lines binding the session stores: KV `SESSIONS` and the Durable Object
 * `SESSION_OBJECTS` (class `EdgeSessionObject`), as in the repository's wrangler.toml. */
export const STORE_BINDINGS = [
  `[[kv_namespaces]]`,
  `binding = "SESSIONS"`,
  `id = "sessions-test"`,
  `[[durable_objects.bindings]]`,
  `name = "SESSION_OBJECTS"`,
  `class_name = "EdgeSessionObject"`,
  `[[migrations]]`,
  `tag = "v1"`,
  `new_sqlite_classes = ["EdgeSessionObject"]`,
];

/** Starts origins a, b, c (or `ids`) on free ports. */
export async function startOrigins(ids = ["a", "b", "c"]) {
  const origins = ids.map((id) => new Origin(id));
  await Promise.all(origins.map((o) => o.start()));
  return origins;
}

/**
 * A TCP server on a free 127.0.0.1 port that hands each connection to `onSocket` and never
 * answers HTTP by itself: an origin that hangs or fails. `close()` destroys its connections too.
 */
export async function tcpServer(onSocket) {
  const sockets = new Set();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    onSocket(socket);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** The bytes of an HTTP/1.1 request, written as given: `headers` is a list of [name, value]
 * pairs whose names and values may be strings (sent as latin1, one byte per character) or
 * Buffers (sent as they are: non-UTF-8 bytes, CR, LF, NUL...). `Host`, `Connection: close` and
 * (with a body) `Content-Length` are added unless `bare`. For requests that fetch and node:http
 * refuse to send. */
export function requestBytes(method, path, headers = [], { host = "localhost", body, bare = false } = {}) {
  const bytes = (x) => (Buffer.isBuffer(x) ? x : Buffer.from(String(x), "latin1"));
  const lines = [Buffer.from(`${method} ${path} HTTP/1.1\r\n`, "latin1")];
  const all = bare
    ? headers
    : [
        ["host", host],
        ...headers,
        ["connection", "close"],
        ...(body === undefined ? [] : [["content-length", String(bytes(body).length)]]),
      ];
  for (const [name, value] of all) lines.push(bytes(name), Buffer.from(": "), bytes(value), Buffer.from("\r\n"));
  lines.push(Buffer.from("\r\n"));
  if (body !== undefined) lines.push(bytes(body));
  return Buffer.concat(lines);
}

/** Parses one HTTP/1.1 response from the start of `buf`; null while it is incomplete. */
function parseResponse(buf, ended) {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const [statusLine, ...lines] = buf.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = {};
  const setCookies = [];
  for (const line of lines) {
    const at = line.indexOf(":");
    const name = line.slice(0, at).trim().toLowerCase();
    const value = line.slice(at + 1).trim();
    if (name === "set-cookie") setCookies.push(value);
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let rest = buf.subarray(end + 4);
  let body;
  if (/chunked/i.test(headers["transfer-encoding"] || "")) {
    const parts = [];
    for (;;) {
      const eol = rest.indexOf("\r\n");
      if (eol < 0) return ended ? { status, headers, setCookies, body: Buffer.concat(parts), truncated: true } : null;
      const size = parseInt(rest.subarray(0, eol).toString("latin1"), 16);
      if (size === 0) break;
      if (rest.length < eol + 2 + size + 2) return ended ? { status, headers, setCookies, body: Buffer.concat(parts), truncated: true } : null;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    if (rest.length < length) return ended ? { status, headers, setCookies, body: rest, truncated: true } : null;
    body = rest.subarray(0, length);
  } else if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    body = Buffer.alloc(0);
  } else {
    if (!ended) return null; // delimited by the end of the connection
    body = rest;
  }
  return { status, headers, setCookies, body };
}

/** Sends `bytes` (see `requestBytes`) to `url`'s host and port on a fresh TCP connection and
 * reads one response. Resolves with { status, headers (lower-case names), setCookies, body
 * (Buffer), text, json }; when the connection ends or fails without a complete response (a
 * server may refuse a request by closing), with { status: 0, error, partial } instead. Never
 * rejects. */
export function rawRequest(url, bytes, { timeoutMs = 15_000 } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const chunks = [];
    let done = false;
    const socket = connect({ host: hostname, port: Number(port) });
    const finish = (ended, error) => {
      if (done) return;
      const buf = Buffer.concat(chunks);
      const parsed = parseResponse(buf, ended);
      if (!parsed && !ended) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (!parsed) return resolve({ status: 0, error: error?.code || error?.message || "closed without an answer", partial: buf.toString("latin1") });
      const text = parsed.body.toString("utf8");
      let json;
      try {
        json = JSON.parse(text);
      } catch {}
      resolve({ ...parsed, text, json, error: error?.code || error?.message });
    };
    const timer = setTimeout(() => finish(true, new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      finish(false);
    });
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", (e) => finish(true, e));
    // A server may answer (431, 400) and close before the whole request is written: ignore EPIPE.
    socket.write(bytes, () => {});
  });
}

/**
 * A bounded load (autocannon) on `url`: `connections` clients for `duration` seconds, each one of
 * `visitors` (`{ cookie, backend }`, or `{}` for a client without either) asking GET /bench, or
 * each time the path `path()` gives, again and again. autocannon's result, with `misses`: the
 * answers from another origin than the visitor's `backend`. tests/e2e/load.test.mjs,
 * bench/gateway-load.mjs and bench/store-load.mjs.
 */
export async function pinnedLoad(url, visitors, { connections = 32, duration = 10, title, path } = {}) {
  const { default: autocannon } = await import("autocannon");
  let next = 0;
  let misses = 0;
  const instance = autocannon({
    title,
    url,
    connections,
    duration,
    setupClient(client) {
      const v = visitors[next++ % visitors.length];
      client.setRequests([
        {
          method: "GET",
          path: "/bench",
          headers: v.cookie ? { cookie: v.cookie } : {},
          ...(path && { setupRequest: (req) => ({ ...req, path: path() }) }),
          onResponse(status, body) {
            if (v.backend && JSON.parse(body).backend !== v.backend) misses++;
          },
        },
      ]);
    },
  });
  return new Promise((ok, fail) => {
    instance.on("done", (result) => ok({ ...result, misses }));
    instance.on("error", fail);
  });
}
