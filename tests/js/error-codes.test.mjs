// One list of error codes (issue 11): `Error::code` in src/error.rs is the source; the
// TypeScript `ErrorCode` union (src/js/tokens.rs, in the built .d.ts) must name exactly those
// codes, and the codes the library throws are among them. scripts/build-pkg.mjs fails `make pkg`
// on the same drift and writes ERROR_CODES from src/error.rs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { errorCodeUnion, errorCodes } from "../../scripts/build-pkg.mjs";
import { codeOf, pkg, sessionTokens } from "./fixtures.mjs";

const dts = readFileSync(new URL("../../pkg-node/edge_session.d.ts", import.meta.url), "utf8");

test("src/error.rs has the codes this test knows to look for", () => {
  const codes = errorCodes();
  assert.ok(codes.length >= 18, `${codes.length} codes`);
  for (const c of ["too_large", "bad_signature", "expired", "conflict", "store_unavailable"]) assert.ok(codes.includes(c), c);
  assert.equal(new Set(codes).size, codes.length, "no code twice");
});

test("the ErrorCode union of the .d.ts is exactly the codes of src/error.rs", () => {
  const union = errorCodeUnion(dts);
  assert.ok(union, "an ErrorCode union");
  assert.deepEqual([...union].sort(), [...errorCodes()].sort());
});

test("EdgeSessionError.code is the union, not a wider type", () => {
  assert.match(dts, /interface EdgeSessionError extends Error \{[^}]*\bcode: ErrorCode;/);
});

test("codes thrown at run time are in the list, each the one its fault has", () => {
  const tokens = sessionTokens();
  const thrown = [
    codeOf(() => tokens.verify("x")),
    codeOf(() => tokens.verify("A".repeat(10_000))),
    codeOf(() => new pkg.SessionTokens({ keys: [] })),
    codeOf(() => tokens.verifyJwt("eyJhbGciOiJub25lIn0.e30.")),
  ];
  assert.deepEqual(thrown, ["malformed", "too_large", "invalid_config", "unsupported_alg"]);
  for (const code of thrown) assert.ok(errorCodes().includes(code), code);
});

test("with Error.prototype frozen (a hardening step), or Object.prototype polluted, the library's errors are still EdgeSessionErrors with their code", async () => {
  // Frozen, Error.prototype's `name` is read-only: the error's `name = "EdgeSessionError"` was
  // dropped without a word in the CommonJS glue (isEdgeSessionError false for every bad token,
  // README's `if (isEdgeSessionError(e)) return null` a 500) and threw in the ES module glue,
  // through the wasm's frames: some 3,000 such errors later, every call of the module failed.
  const { execFileSync } = await import("node:child_process");
  const script = `
    Object.freeze(Error.prototype);
    const { SessionTokens } = require(${JSON.stringify(new URL("../../pkg-node/edge_session.js", import.meta.url).pathname)});
    const tokens = new SessionTokens({ keys: [{ id: "k1", secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA" }] });
    const token = tokens.sign({ sub: "u" });
    // Options of no prototype: under the pollution below, an inherited \`get\` would be an
    // unknown option (invalid_config), and the errors looked for never made.
    const options = (o) => Object.assign(Object.create(null), o);
    const run = () => {
      const seen = new Set();
      for (let i = 0; i < 5000; i++) {
        try { tokens.verify("x." + i); } catch (e) { seen.add(e.name + " " + e.code); }
        try { new SessionTokens(options({ keys: [] })); } catch (e) { seen.add(e.name + " " + e.code + " " + e.setting); }
      }
      try { tokens.verify(token, options({ now: 4e9 })); } catch (e) { seen.add(e.code + " " + e.claims?.sub + " " + Object.keys(e)); }
      seen.add(tokens.verify(token).sub);
      return [...seen];
    };
    const frozen = run();
    // A polluted Object.prototype: a property descriptor that inherits \`get\` is an
    // accessor's, and one with a \`value\` too is refused.
    Object.prototype.get = undefined;
    console.log(JSON.stringify([frozen, run()]));
  `;
  const out = execFileSync(process.execPath, ["-e", script], { encoding: "utf8" });
  const expected = ["EdgeSessionError malformed", "EdgeSessionError invalid_config keys", "expired u name,code", "u"];
  assert.deepEqual(JSON.parse(out), [expected, expected]);
});
