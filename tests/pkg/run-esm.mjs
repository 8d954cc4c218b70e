// Node (ES modules), Deno and Bun: the package as each runtime resolves `edge-session`.
import * as lib from "edge-session";
import * as store from "edge-session/store";
import * as assertion from "edge-session/assertion";
import * as dbsc from "edge-session/dbsc";
import * as jose from "jose";
import { smoke } from "./smoke.mjs";

console.log(`SMOKE ${JSON.stringify(await smoke({ lib, store, assertion, dbsc, jose }))}`);
