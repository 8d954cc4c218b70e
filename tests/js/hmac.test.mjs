// The RFC 4231 HMAC-SHA256 known answers of tests/vectors/hmac.json, which src/keys.rs checks
// the crate's MAC against (its tags are the first 16 bytes), checked here against Node's own
// HMAC: the data file says what the RFC says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { vectors } from "./fixtures.mjs";

test("the RFC 4231 vectors (tests/vectors/hmac.json) are Node's HMAC-SHA256", () => {
  const cases = vectors("hmac.json").hmac;
  assert.deepEqual(
    cases.map((v) => v.name),
    ["rfc4231-1", "rfc4231-2", "rfc4231-5", "rfc4231-7"],
  );
  for (const v of cases) {
    const mac = createHmac("sha256", Buffer.from(v.keyHex, "hex"))
      .update(Buffer.from(v.dataHex, "hex"))
      .digest("hex");
    assert.equal(mac.slice(0, v.macHex.length), v.macHex, v.name);
    assert.ok(v.macHex.length >= 32, `${v.name}: at least the 16 bytes the crate's tags keep`);
  }
});
