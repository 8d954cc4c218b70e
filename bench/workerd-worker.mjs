// The worker bench/tokens.mjs runs inside workerd (Miniflare): GET /?group=verify&op=NAME&n=N
// runs operation NAME of bench/ops.mjs N times and answers "ok". The script times each request
// from outside (inside workerd, Date.now() does not advance during computation) and subtracts
// a request with n=0. Bundled by esbuild; `edge-session` is the web build (www/pkg/).
import { initSync, SessionTokens, SealedTokens } from "edge-session";
import wasm from "./edge_session_bg.wasm";
import { makeOps, runOp } from "./ops.mjs";

initSync({ module: wasm });
let ops;

export default {
  async fetch(request) {
    ops ??= makeOps({ SessionTokens, SealedTokens });
    const { verify, sign, info } = await ops;
    const params = new URL(request.url).searchParams;
    if (params.has("info")) return Response.json({ ...info, ops: { verify: Object.keys(verify), sign: Object.keys(sign) } });
    const fn = (params.get("group") === "sign" ? sign : verify)[params.get("op")];
    if (!fn) return new Response("unknown operation", { status: 404 });
    await runOp(fn, Number(params.get("n")));
    return new Response("ok");
  },
};
