// The operations bench/ab.mjs (Node) and bench/ab-workerd.mjs (workerd) time on each build, on
// the claims of bench/ops.mjs, each checked once. No Buffer: workerd has none.
//
// Those A/Bs load a copy of this module per build: code that several builds ran would see the
// classes of each (V8 keeps feedback per function literal) and run them all more slowly than a
// process with one build does, by how much depending on the order the builds ran in.
const CLAIMS = { sub: "user-12345", role: "admin" };

export function makeOps(edge) {
  const secret = btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => i + 1)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
  const keys = [{ id: "k1", secret }];
  const tokens = new edge.SessionTokens({ keys, ttlSeconds: 3600 });
  const sealed = new edge.SealedTokens({ keys, ttlSeconds: 3600 });
  const compact = tokens.sign(CLAIMS);
  const jwt = tokens.signJwt(CLAIMS);
  const sealedToken = sealed.sign(CLAIMS);
  const ops = {
    "compact verify": () => tokens.verify(compact),
    verifyJwt: () => tokens.verifyJwt(jwt),
    "sealed verify": () => sealed.verify(sealedToken),
    "compact sign": () => tokens.sign(CLAIMS),
    signJwt: () => tokens.signJwt(CLAIMS),
    "sealed sign": () => sealed.sign(CLAIMS),
  };
  for (const [name, fn] of Object.entries(ops)) {
    const out = fn();
    const claims = typeof out === "string" ? (name === "signJwt" ? tokens.verifyJwt(out) : name === "sealed sign" ? sealed.verify(out) : tokens.verify(out)) : out;
    if (claims.sub !== CLAIMS.sub) throw new Error(`${name} failed`);
  }
  return ops;
}

/** `fn()` `n` times: the loop of this copy of the module, so that each build runs in its own. */
export function repeat(fn, n) {
  for (let i = n; i > 0; i--) fn();
}
