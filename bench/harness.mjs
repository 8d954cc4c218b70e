// A tiny benchmark harness: runs a (sync or async) function in batches for a fixed time,
// three rounds after a warm-up, and reports the best round in operations per second.
export async function opsPerSecond(fn, { seconds = 1, rounds = 3 } = {}) {
  const isAsync = fn() instanceof Promise;
  const runBatch = isAsync
    ? async (n) => { for (let i = 0; i < n; i++) await fn(); }
    : async (n) => { for (let i = 0; i < n; i++) fn(); };
  await runBatch(2000); // warm-up: let V8 optimize
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let done = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < seconds * 1000) {
      await runBatch(500);
      done += 500;
      elapsed = performance.now() - start;
    }
    best = Math.max(best, (done * 1000) / elapsed);
  }
  return best;
}

export const fmt = (n) => Math.round(n).toLocaleString("en-US");

export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const row of rows) {
    console.log(row.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  "));
  }
}
