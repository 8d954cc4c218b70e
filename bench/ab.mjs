// A/B of the JS library's token operations in Node: two (or more) builds of pkg-node loaded side
// by side, each operation timed on each build in turn, interleaved, so that the load of a shared
// machine falls on all alike. Prints ns per operation: the median and the spread (min to max).
//
//   cp -r pkg-node /tmp/before   # then change something, `make pkg-node`
//   node bench/ab.mjs /tmp/before pkg-node [--rounds 11] [--n 20000]
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(import.meta.url);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("rounds", 11);
const N = arg("n", 20_000);
const dirs = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
if (dirs.length === 0) {
  console.error("usage: node bench/ab.mjs DIR_A DIR_B ... [--rounds 11] [--n 20000]");
  process.exit(2);
}

// Per build, a copy of the operations' module of its own (a query makes another module
// instance): see bench/ab-workerd-ops.mjs.
const ops = [];
for (const [i, dir] of dirs.entries()) {
  const { makeOps, repeat } = await import(`./ab-workerd-ops.mjs?build=${i}`);
  ops.push({ set: makeOps(require(resolve(dir, "edge_session.js"))), repeat });
}
const names = Object.keys(ops[0].set);

const times = dirs.map(() => Object.fromEntries(names.map((n) => [n, []])));
// Round 0 warms up and is not counted.
for (let round = 0; round <= ROUNDS; round++)
  for (const name of names)
    for (const [i, { set, repeat }] of ops.entries()) {
      const t0 = process.hrtime.bigint();
      repeat(set[name], N);
      if (round > 0) times[i][name].push(Number(process.hrtime.bigint() - t0) / N);
    }

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
console.log(`ns per operation, median [min-max] of ${ROUNDS} interleaved rounds of ${N}`);
for (const name of names)
  console.log(
    name.padEnd(15),
    dirs
      .map((d, i) => {
        const xs = times[i][name];
        return `${d}: ${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}]`;
      })
      .join("  |  "),
  );
