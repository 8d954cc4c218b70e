// Browsers: bundled by esbuild (the `browser` condition), loaded by index.html in Chromium.
import * as lib from "edge-session";
import * as store from "edge-session/store";
import * as assertion from "edge-session/assertion";
import * as dbsc from "edge-session/dbsc";
import * as jose from "jose";
import { smoke } from "./smoke.mjs";

window.smokeResult = smoke({ lib, store, assertion, dbsc, jose });
