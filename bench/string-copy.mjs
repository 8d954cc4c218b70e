// What the glue's copy of a string into the wasm memory costs inside workerd (Miniflare), by the
// way it copies: wasm-bindgen's loop of `charCodeAt` over the string, or one
// `TextEncoder.encodeInto` first (scripts/glue.mjs, rewrite 8), for strings of the gateway's kind:
// a request's or an answer's headers as one text, made the way the gateway's glue makes it
// (`text += name + '\n' + value + '\n'` per header: a string of many pieces until something
// flattens it). Each copy is of a new string (once flattened, a string stays flat); "make only"
// times making them without a copy, and the copies' columns are net of it. Below 141 units both
// ways run the same loop (two copies of it): what they differ by there is the noise. Timed from outside (inside workerd the clock does not advance
// while a worker computes): the CPU time of the workerd process for a request of N copies minus
// one of none, medians of the rounds, in ns per copy.
//
//   node bench/string-copy.mjs [--rounds 7] [--n 20000]
import { parseArgs } from "node:util";
import { Miniflare } from "miniflare";

import { COMPAT, cpuNs, median, workerdPids } from "./workerd.mjs";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "7" }, n: { type: "string", default: "20000" } } });
const ROUNDS = Number(values.rounds);
const N = Number(values.n);
const LENGTHS = [100, 150, 600, 1200, 2400];

const script = `
const encoder = new TextEncoder();
const mem = new Uint8Array(1 << 20);
// wasm-bindgen's loop, as in its passStringToWasm0 (the ASCII prefix).
function loop(arg, ptr) {
  const len = arg.length;
  let offset = 0;
  for (; offset < len; offset++) {
    const code = arg.charCodeAt(offset);
    if (code > 0x7f) break;
    mem[ptr + offset] = code;
  }
  return offset;
}
// Rewrite 8: encodeInto first when the string is past 140 units, the loop for what is left.
function encodeInto(arg, ptr) {
  const len = arg.length;
  let offset = 0;
  if (len > 140 && encoder.encodeInto(arg, mem.subarray(ptr, ptr + len)).read === len) offset = len;
  for (; offset < len; offset++) {
    const code = arg.charCodeAt(offset);
    if (code > 0x7f) break;
    mem[ptr + offset] = code;
  }
  return offset;
}
const copies = { loop, encodeInto, none: () => 0 };
// A header text of about \`len\` units, new each call (i), as the gateway's glue makes it.
function pieces(len, i) {
  let text = "";
  const value = ("v" + i).padEnd(40, "x");
  while (text.length < len) text += "x-name" + "\\n" + value + "\\n";
  return text;
}
export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    const n = Number(q.get("n"));
    const len = Number(q.get("len"));
    const copy = copies[q.get("copy")];
    let sum = 0;
    for (let i = 0; i < n; i++) sum += copy(pieces(len, i), (i & 255) * 4096);
    return new Response(String(sum));
  },
};`;

const mf = new Miniflare({ modules: true, script, compatibilityDate: COMPAT });
await mf.ready;
const pids = workerdPids();
const cpu = async (query) => {
  const start = cpuNs(pids);
  await (await mf.dispatchFetch(`http://copy.test/?${query}`)).text();
  return cpuNs(pids) - start;
};
console.log(`ns of workerd CPU per copy, net of making the string; median of ${ROUNDS} rounds of ${N} (node bench/string-copy.mjs --rounds ${ROUNDS} --n ${N})`);
console.log("| units | make only | loop | encodeInto first |");
console.log("| ---: | ---: | ---: | ---: |");
for (const len of LENGTHS) {
  const ns = { none: [], loop: [], encodeInto: [] };
  for (let r = 0; r <= ROUNDS; r++)
    for (const copy of r % 2 ? ["none", "loop", "encodeInto"] : ["encodeInto", "loop", "none"]) {
      const q = `copy=${copy}&len=${len}`;
      const t = ((await cpu(`${q}&n=${N}`)) - (await cpu(`${q}&n=0`))) / N;
      if (r > 0) ns[copy].push(t); // round 0 warms up
    }
  const make = median(ns.none);
  const net = (xs) => (median(xs) - make).toFixed(0);
  console.log(`| ${len} | ${make.toFixed(0)} | ${net(ns.loop)} | ${net(ns.encodeInto)} |`);
}
await mf.dispose();
