#!/usr/bin/env bash
# Builds the gateway worker: what `make gateway` and `make gateway-test` run, and wrangler.toml's
# [build] command (so `wrangler dev` and `wrangler deploy` build the same).
#
#   scripts/build-gateway.sh               production build into build/
#   scripts/build-gateway.sh --test        test build into build-test/: adds the store conformance
#                                          suite (feature `gateway-conformance`) for the e2e tests
#
# worker-build compiles (cargo profile `gateway`, see Cargo.toml), runs wasm-bindgen and writes
# the JS shim, with the tools found here instead of downloaded (WASM_BINDGEN_BIN, ESBUILD_BIN);
# it does not run wasm-opt (`wasm-opt = false` for custom profiles in Cargo.toml), because it
# always keeps the name section (--debuginfo: about 30 KB gzipped of function names). This script
# runs wasm-opt itself, without it, with the wasm features worker-build enables for workerd.
# GATEWAY_NAMES=1 keeps the name section (readable wasm frames in stack traces, profiles);
# GATEWAY_OUT=dir writes elsewhere than build/ or build-test/ (comparing builds).
set -euo pipefail
cd "$(dirname "$0")/.."

out=build
features=gateway,talc
if [ "${1:-}" = "--test" ]; then
  out=build-test
  features=gateway-conformance,talc
fi
out="${GATEWAY_OUT:-$out}"

bin="$PWD/node_modules/.bin"
# .cargo/config.toml's wasm32 flags without its inline threshold (tuned for the JS library's
# opt-level 2; it would grow the gateway, whose own code is built for size, by about 10%).
# RUSTFLAGS replaces the configured flags (CARGO_TARGET_*_RUSTFLAGS would be merged with them);
# the caller's own RUSTFLAGS are kept, after these.
#
# The panic locations the wasm keeps name the registry's sources from the crate, not this
# machine's cargo home (scripts/remap-flags.sh): the same wasm whatever the cargo home, and 2,064
# B raw, 109 B gzipped less (`make size-check`).
remap=" $(scripts/remap-flags.sh)"
export RUSTFLAGS="-C target-feature=+simd128$remap${RUSTFLAGS:+ $RUSTFLAGS}"
WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen}" ESBUILD_BIN="$bin/esbuild" \
  "${CARGO_HOME:-$HOME/.cargo}/bin/worker-build" --profile gateway --out-dir "$out" . \
  --no-default-features --features "$features" --target-dir target/gateway

# The same feature set worker-build passes to wasm-opt (workerd supports these, not newer ones);
# --converge and --low-memory-unused as for the JS library (Cargo.toml): 2.1 KB less gzipped.
enable=(--enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling)
names=()
[ "${GATEWAY_NAMES:-}" = 1 ] && names=(--debuginfo)
wasm="$out/index_bg.wasm"
# wasm-bindgen exports every class of the crates linked in, and these the gateway never uses:
# the worker crate's ContainerStartupOptions, MinifyConfig and R2Range, and wasm-streams' Rust
# streams as JavaScript ones (the gateway's bodies stay JavaScript streams). Nothing can hold an
# instance of them, which scripts/glue.mjs checks before it takes their exports out; wasm-opt
# then drops the code only they reached: about 3,600 B gzipped.
node scripts/glue.mjs --unused-classes "$wasm" containerstartupoptions minifyconfig r2range \
  intounderlyingsource intounderlyingbytesource intounderlyingsink
# The producers and target features sections name the compilers and the features they used:
# nothing workerd reads (236 B gzipped).
"$bin/wasm-opt" "$wasm" -Oz --converge --low-memory-unused --strip-producers --strip-target-features \
  "${enable[@]}" "${names[@]}" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"
# The wasm's imports from the glue get short names, in the wasm and in the glue together
# (scripts/glue.mjs, as for the JS library): the hex digits of wasm-bindgen's names do not
# compress.
node scripts/glue.mjs --bundled "$out/index.js"

# The entry module: the handlers called without worker-build's per-request Proxy, panic recovery
# kept (src/gateway/worker/entry.mjs). It replaces worker-build's worker/shim.mjs, a re-export of
# index.js, so every path that loads the gateway (wrangler.toml's main, the tests, the
# benchmarks) loads it.
cp src/gateway/worker/entry.mjs "$out/worker/shim.mjs"
