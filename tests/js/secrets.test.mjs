// No exception shows the text of a secret, however the key list is misshaped: an error message
// ends up in logs and error pages. Run on the package built by `make pkg-node`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pkg } from "./fixtures.mjs";

const { SessionTokens, SealedTokens, Affinity, setCookie } = pkg;

const SECRET = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 101)).toString("base64url");

/** The error `fn` throws: invalid_config, and no part of the secret in its message. */
function refusedQuietly(fn, what) {
  try {
    fn();
  } catch (e) {
    assert.equal(e.code, "invalid_config", `${what}: ${e.message}`);
    for (const part of [SECRET, SECRET.slice(0, 12), SECRET.slice(-12)]) {
      assert.ok(!e.message.includes(part), `${what} shows the secret: ${e.message}`);
      assert.ok(!String(e.stack).includes(part), `${what}: the stack shows the secret`);
    }
    return;
  }
  assert.fail(`${what}: expected a throw`);
}

const misshapedKeyLists = {
  "a list of secrets": [SECRET],
  "id and secret swapped": [{ id: SECRET, secret: "k1" }],
  "the secret as an id with a bad character": [{ id: SECRET + "!", secret: SECRET }],
  "a repeated id that is the secret": [
    { id: SECRET.slice(0, 40), secret: SECRET },
    { id: SECRET.slice(0, 40), secret: SECRET },
  ],
  "the secret under two ids (a new key with the old secret pasted in)": [
    { id: "k2", secret: SECRET },
    { id: "k1", secret: SECRET },
  ],
  "the secret as an option name": [{ id: "k1", secret: SECRET, [SECRET]: 1 }],
  "a short secret": [{ id: "k1", secret: SECRET.slice(0, 20) }],
  "an object, not a list": { id: "k1", secret: SECRET },
};

for (const [Tokens, name] of [[SessionTokens, "SessionTokens"], [SealedTokens, "SealedTokens"]]) {
  test(`${name}: a misshaped key list never shows its secret`, () => {
    for (const [what, keys] of Object.entries(misshapedKeyLists)) {
      refusedQuietly(() => new Tokens({ keys }), `${name}, ${what}`);
    }
  });
}

test("Affinity: misshaped secrets never show", () => {
  const backends = [{ id: "a" }];
  for (const [what, config] of Object.entries({
    "a short secret": { secret: SECRET.slice(0, 20), backends },
    "previous secrets as objects": { secret: SECRET, previousSecrets: [{ secret: SECRET }], backends },
    "a short previous secret": { secret: SECRET, previousSecrets: [SECRET.slice(0, 20)], backends },
    "the secret among its previous ones": { secret: SECRET, previousSecrets: [SECRET], backends },
    "the secret as an option name": { secret: SECRET, backends, [SECRET]: true },
    "a secret that is not text": { secret: [SECRET], backends },
  })) {
    refusedQuietly(() => new Affinity(config), `Affinity, ${what}`);
  }
});

test("a secret given as a cookie or header name is refused without being shown", () => {
  const list = JSON.stringify([{ id: "k1", secret: SECRET }]);
  refusedQuietly(() => setCookie(list, "v"), "setCookie, the key list as the name");
  refusedQuietly(() => setCookie(`${SECRET}==`, "v"), "setCookie, a padded secret as the name");
  // An unpadded base64url secret is a valid cookie name: refused by a rule of its attributes or
  // by its value, it was quoted whole; so were a domain and a path.
  refusedQuietly(() => setCookie(SECRET, "v", { sameSite: "None", secure: false }), "setCookie, the secret as the name, SameSite=None");
  refusedQuietly(() => setCookie(SECRET, "v", { partitioned: true, secure: false }), "setCookie, the secret as the name, Partitioned");
  refusedQuietly(() => setCookie(`__Host-${SECRET}`, "v", { path: "/a" }), "setCookie, the secret in a __Host- name");
  refusedQuietly(() => setCookie(SECRET, "a;b"), "setCookie, the secret as the name, a bad value");
  refusedQuietly(() => setCookie("sid", "v", { domain: `${SECRET}!` }), "setCookie, the secret as the domain");
  refusedQuietly(() => setCookie("sid", "v", { path: `/${SECRET};` }), "setCookie, the secret as the path");
  const backends = [{ id: "a" }];
  const other = Buffer.alloc(32, 7).toString("base64url");
  refusedQuietly(
    () => new Affinity({ secret: other, mode: "header", header: `${SECRET}==`, backends }),
    "Affinity, a padded secret as the header",
  );
});
