#!/usr/bin/env node
// Does this machine's Chromium register a device-bound session (DBSC) with the gateway?
//
//   make gateway && node scripts/dbsc-chromium-probe.mjs      (CHROMIUM=<path> for another binary)
//
// Starts a demo origin and the gateway with DBSC = "on" on wrangler dev (tests/e2e/harness.mjs),
// launches headless Chromium with DBSC enabled for developers (no origin trial token, no refresh
// quota, software keys where the platform has no TPM), logs in through the demo page and
// reports what happened: the DevTools DBSC events (Network.enableDeviceBoundSessions), whether
// the browser holds the bound cookie, and what the origin was told (`x-session-bound`). Exits
// 0 when Chromium registered, 1 when it did not: then tests/browser/ has no DBSC test to run,
// and tests/e2e/dbsc.test.mjs (a protocol client) is what checks the gateway.
//
// Chromium 156 (Debian bookworm) on Linux, 2026-11: it loads its DBSC store and counts deferral
// decisions (chrome://histograms Net.DeviceBoundSessions.*) but never acts on the registration
// header: no DevTools event, no POST, no NetLog DBSC event, over http://127.0.0.1 as over https.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

import { Gateway, startOrigins } from "../tests/e2e/harness.mjs";

const FEATURES = [
  "DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false/CheckSubdomainRegistration/false",
  "DeviceBoundSessionsDevTools",
  "EnableBoundSessionCredentialsSoftwareKeysForManualTesting",
].join(",");

const origins = await startOrigins(["a"]);
const gw = new Gateway(origins, { vars: { DBSC: "on" } });
let browser;
let profile;
let registered = false;
try {
  await gw.start();
  // A regular (not incognito) profile in a temporary directory: DBSC keeps its sessions there.
  profile = mkdtempSync(join(tmpdir(), "dbsc-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", `--enable-features=${FEATURES}`],
  });
  browser = context;
  const page = context.pages()[0] ?? (await context.newPage());
  const cdp = await context.newCDPSession(page);
  const events = [];
  cdp.on("Network.deviceBoundSessionEventOccurred", (e) => events.push(e));
  cdp.on("Network.deviceBoundSessionsAdded", (e) => e.sessions.length && events.push(e));
  await cdp.send("Network.enable");
  await cdp.send("Network.enableDeviceBoundSessions", { enable: true });

  // The demo page's login answers a browser with a 303 back to the page: the offer is on it.
  let offer;
  page.on("response", async (r) => {
    offer ??= (await r.allHeaders())["secure-session-registration"];
  });
  await page.goto(`${gw.url}/login?user=alice`);
  // Chromium registers in the background: give it time, then look.
  await page.waitForTimeout(5000);
  const cookies = (await context.cookies(gw.url)).map((c) => c.name);
  await page.goto(`${gw.url}/`);
  const bound = (await page.textContent("#headers")).includes("x-session-bound");
  registered = cookies.includes("__Host-session-bound");

  console.log(`Chromium ${context.browser()?.version() ?? "(persistent context)"}, features ${FEATURES}`);
  console.log(`offer on the login answer: ${offer ?? "(none)"}`);
  console.log(`DevTools DBSC events: ${events.length ? JSON.stringify(events, null, 1) : "none"}`);
  console.log(`cookies held: ${cookies.join(", ")}`);
  console.log(`origin told x-session-bound: ${bound}`);
  console.log(registered ? "registered" : "not registered");
} finally {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await gw.stop();
  await Promise.all(origins.map((o) => o.kill()));
}
process.exit(registered ? 0 : 1);
