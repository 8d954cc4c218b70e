// The gateway's entry module: scripts/build-gateway.sh copies it to build/worker/shim.mjs
// (wrangler.toml's `main`), beside worker-build's bundle (../index.js).
//
// worker-build's default export is a class (a WorkerEntrypoint) wrapped in a Proxy for panic
// recovery: every request then constructs an instance of it, a Proxy of the instance and one of
// its `fetch`, and goes through their traps. This module's default export is a plain object
// whose handlers call the same wasm exports directly (they read nothing of the instance but
// `env` and `ctx`), and keeps the recovery: a wasm trap (WebAssembly.RuntimeError, which is what
// a Rust panic becomes) thrown by a handler or rejecting its promise marks the module broken, as
// the shim marks it; the next request then constructs the shim's class once, whose construct
// trap re-instantiates the module (wasm-bindgen's reset-state function) before the handler runs.
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

function call(handler, arg, env, ctx) {
  if (state.criticalError) Reflect.construct(Shimmed, [ctx, env]);
  let out;
  try {
    out = handler.call({ env, ctx }, arg);
  } catch (e) {
    critical(e);
  }
  return out instanceof Promise ? out.then(undefined, critical) : out;
}

export default {
  fetch(request, env, ctx) {
    return call(handlers.fetch, request, env, ctx);
  },

  scheduled(event, env, ctx) {
    return call(handlers.scheduled, event, env, ctx);
  },
};
