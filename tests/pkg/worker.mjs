// Cloudflare Workers: bundled by wrangler (`wrangler deploy --dry-run`), run in workerd with a KV
// namespace.
import * as lib from "edge-session";
import * as store from "edge-session/store";
import * as assertion from "edge-session/assertion";
import * as dbsc from "edge-session/dbsc";
import * as jose from "jose";
import { smoke } from "./smoke.mjs";

export default {
  async fetch(request, env) {
    return Response.json(await smoke({ lib, store, assertion, dbsc, jose, kv: env.SESSIONS }));
  },
};
