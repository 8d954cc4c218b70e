// `make dev`, as README's first command runs it (scripts/dev.sh after the set-up): three demo
// origins on 127.0.0.1:9001-9003 and the gateway under wrangler dev on 127.0.0.1:8787 with its
// embedded defaults (wrangler.toml: local Durable Objects and KV in .wrangler/state, DBSC on).
// A login through an origin reaches the next request, and Ctrl-C (SIGINT) stops everything it
// started. It uses the fixed ports of `make dev`: a `make dev` already running fails this test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createConnection } from "node:net";

import { ROOT, Jar } from "./harness.mjs";

const GATEWAY = "http://127.0.0.1:8787";
const PORTS = [8787, 9001, 9002, 9003];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether something listens on 127.0.0.1:`port`. */
const listening = (port) =>
  new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => resolve(socket.end() && true));
    socket.once("error", () => resolve(false));
  });

test("make dev: the gateway on :8787 before three demo origins, a login kept, and Ctrl-C stops it all", { timeout: 600_000 }, async () => {
  for (const port of PORTS) assert.equal(await listening(port), false, `port ${port} is taken (make dev running?)`);
  const dev = spawn("make", ["--no-print-directory", "dev"], {
    cwd: ROOT,
    detached: true, // a process group of its own, as a terminal's: Ctrl-C reaches all of it
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let log = "";
  dev.stdout.on("data", (c) => (log = (log + c).slice(-20_000)));
  dev.stderr.on("data", (c) => (log = (log + c).slice(-20_000)));
  const exited = new Promise((r) => dev.once("exit", (code, signal) => r({ code, signal })));
  // Ctrl-C, as a terminal sends it to the group; and if this process ends first (the runner
  // killed or interrupted: a detached group gets no signal of the terminal's), the same.
  const stop = () => {
    try {
      process.kill(-dev.pid, "SIGINT");
    } catch {} // the group is gone already
  };
  process.once("exit", stop);
  try {
    // The first build under wrangler dev takes a while (it reuses make gateway's, if any). A
    // page from an origin through the gateway (its /__edge/ready wants OPERATOR_TOKEN here).
    let ready = false;
    const deadline = Date.now() + 480_000;
    while (!ready && dev.exitCode === null && Date.now() < deadline) {
      const signal = AbortSignal.timeout(5000);
      ready = await fetch(`${GATEWAY}/health`, { signal }).then((r) => r.ok, () => false);
      if (!ready) await sleep(1000);
    }
    assert.ok(ready, `make dev did not serve ${GATEWAY}:\n${log}`);
    const jar = new Jar();
    const jarFetch = async (path) => {
      const res = await fetch(GATEWAY + path, { headers: { cookie: jar.header() }, redirect: "manual" });
      jar.take(res);
      return res;
    };
    const login = await jarFetch("/login?user=alice");
    assert.equal(login.status, 200, await login.text());
    const whoami = await (await jarFetch("/whoami")).json();
    assert.equal(whoami.session["x-session-sub"], "alice", JSON.stringify(whoami));
    assert.ok(["a", "b", "c"].includes(whoami.backend), JSON.stringify(whoami));
    // The session store of wrangler.toml (a Durable Object): the origin gets its data.
    assert.equal(whoami.session["x-session-store"], "ok", JSON.stringify(whoami));
  } finally {
    stop();
    process.off("exit", stop);
  }
  const { code, signal } = await Promise.race([exited, sleep(30_000).then(() => ({ code: "still running" }))]);
  assert.ok(code !== "still running", `make dev did not stop on SIGINT:\n${log}`);
  assert.ok(code !== null || signal !== null);
  // Nothing it started is left listening.
  for (let i = 0; i < 50 && (await Promise.all(PORTS.map(listening))).some(Boolean); i++) await sleep(200);
  for (const port of PORTS) assert.equal(await listening(port), false, `port ${port} still served after Ctrl-C`);
});
