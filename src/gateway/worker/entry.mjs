// The gateway's entry module: scripts/build-gateway.sh copies it to build/worker/shim.mjs
// (wrangler.toml's `main`), beside worker-build's bundle (../index.js).
//
// worker-build's default export wraps the entry class in a Proxy for panic recovery: every
// request then constructs a Proxy of the instance, a Proxy of its `fetch` and goes through their
// traps. This class calls the same handlers directly and keeps the recovery: a wasm trap
// (WebAssembly.RuntimeError, which is what a Rust panic becomes) thrown by a handler or
// rejecting its promise marks the module broken, as the shim marks it; the next request then
// constructs the shim's class once, whose construct trap re-instantiates the module (wasm-bindgen's
// reset-state function) before the handler runs.
import { WorkerEntrypoint } from "cloudflare:workers";
import Shimmed from "../index.js";

export * from "../index.js";

const state = globalThis.__worker_init_state;
const handlers = Shimmed.prototype;

function critical(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    console.error("Critical", e);
    state.criticalError = true;
  }
  throw e;
}

function call(self, handler, arg) {
  if (state.criticalError) Reflect.construct(Shimmed, [self.ctx, self.env]);
  let out;
  try {
    out = handler.call(self, arg);
  } catch (e) {
    critical(e);
  }
  return out instanceof Promise ? out.then(undefined, critical) : out;
}

export default class Gateway extends WorkerEntrypoint {
  fetch(request) {
    return call(this, handlers.fetch, request);
  }

  scheduled(event) {
    return call(this, handlers.scheduled, event);
  }
}
