// Vercel's edge runtime: bundled with the `edge-light` condition (as Vercel's bundler does) and
// run by the `edge-runtime` package, which calls `globalThis.smokeTest()`.
import * as lib from "edge-session";
import * as store from "edge-session/store";
import * as assertion from "edge-session/assertion";
import * as dbsc from "edge-session/dbsc";
import * as jose from "jose";
import { smoke } from "./smoke.mjs";

globalThis.smokeTest = () => smoke({ lib, store, assertion, dbsc, jose });
