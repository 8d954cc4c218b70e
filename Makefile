# The front door. `make test` is what CI runs; every target sets up what it needs first.
SHELL := bash
export PATH := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export WRANGLER_SEND_METRICS := false
WASM_PACK := wasm-pack --log-level warn
# The panic locations a wasm keeps name the registry's sources, not this machine's cargo home
# (scripts/remap-flags.sh). Merged with .cargo/config.toml's flags (RUSTFLAGS would replace
# them); scripts/build-gateway.sh sets the gateway's own. Expanded for each recipe (`=`, and a
# shell rather than make's cached `wildcard`): on a fresh machine the registry is unpacked by the
# setup that every target runs first, after make has read this file.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS = $(shell scripts/remap-flags.sh)
# After each wasm-pack build of the JS library, its glue rewritten: a method given something other
# than an instance of the class it takes (`store.commit({})`) throws a TypeError, not
# wasm-bindgen's plain Error; `verify` and `verifyJwt` read their claims or throw the error their
# wasm kept (src/js/thrown.rs), and exist only once rewritten; the wasm's imports from the glue
# get short names, in the wasm and in the glue together.
GLUE := node scripts/glue.mjs
# Node's test runner with the spec reporter, which repeats each failure and its error at the end
# of the output: the part a CI excerpt keeps (TAP gives a failed hook's error only where it
# happened, hundreds of lines before).
NODE_TEST := node --test --test-reporter=spec
# The oldest Rust the feature `gateway` builds with (workers-rs 0.8.7); the rest of the crate's is
# Cargo.toml's rust-version. `make msrv` checks both, scripts/setup.sh installs them.
GATEWAY_MSRV := 1.91
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)

.PHONY: help setup test lint unit wasm-test pkg-node js-test bench pkg dev fmt gateway gateway-test e2e bench-gateway bench-assertion pkg-assertion pkg-dbsc pkg-store-web bench-store pkg-www browser-test playground fuzz \
	pkg-store sizes size-check pkg-test examples-test msrv

## help: this list of targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## setup: install what the targets need, skipping what is already there (scripts/setup.sh).
setup:
	@scripts/setup.sh

## test: everything CI checks: format, lints (native and wasm32), a build with the oldest Rust
## the crate says it needs (msrv), native tests, the same tests in WebAssembly under Node, the
## JavaScript tests against the built package, the npm
## package installed and smoke-tested on every runtime (pkg-test), the examples and README's
## JavaScript (examples-test), the playground in headless Chromium, and the gateway's
## end-to-end tests on the local edge runtime.
## Last, the sizes of the wasm that js-test and e2e built (size-check: it builds nothing, so it
## runs from the recipe, after every prerequisite, even under `make -j`).
test: setup lint msrv unit wasm-test js-test pkg-test examples-test browser-test e2e
	@$(MAKE) --no-print-directory size-check

## lint: Cargo.lock up to date (`cargo fetch --locked`, before any command could rewrite it);
## rustfmt; clippy natively (default features; none, tests and benches too; the store; the gateway)
## and for wasm32 (the JS library, the gateway and its test build, the store's test build,
## OriginAssertions, DBSC); the docs with warnings denied (with every feature, and without: the
## pure core's).
lint: setup
	cargo fetch --locked
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --no-default-features -- -D warnings
	cargo clippy --all-targets --features store -- -D warnings
	cargo clippy --all-targets --features gateway -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --quiet
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --no-default-features --quiet
	cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --no-default-features --features gateway -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --no-default-features --features gateway-conformance,talc -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --features conformance -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --features assertion -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --features dbsc -- -D warnings

## msrv: the crate builds, its dependencies as locked, with the oldest Rust it says it needs:
## Cargo.toml's rust-version (default features natively; store, assertion and dbsc natively and
## for wasm32) and GATEWAY_MSRV (the gateway, wasm32). Its own target directory, target/msrv.
msrv: setup
	CARGO_TARGET_DIR=target/msrv cargo +$(MSRV) check --locked --quiet
	CARGO_TARGET_DIR=target/msrv cargo +$(MSRV) check --locked --quiet --features store,assertion,dbsc
	CARGO_TARGET_DIR=target/msrv cargo +$(MSRV) check --locked --quiet --lib --target wasm32-unknown-unknown --features store,assertion,dbsc
	CARGO_TARGET_DIR=target/msrv cargo +$(GATEWAY_MSRV) check --locked --quiet --lib --target wasm32-unknown-unknown --no-default-features --features gateway

## unit: the native tests (cargo test).
unit: setup
	cargo test

## wasm-test: the same tests in WebAssembly under Node (wasm-pack test --node), with the feature
## dbsc for the WebCrypto verify of DBSC proofs (src/webcrypto.rs's tests).
wasm-test: setup
	$(WASM_PACK) test --node --features dbsc

## pkg-node: the JS library as Node loads it, in release form (the one the benchmarks measure).
pkg-node: setup
	$(WASM_PACK) build --release --target nodejs --out-dir pkg-node
	$(GLUE) pkg-node/edge_session.js

## js-test: the JS tests; the Hono middleware's (tests/js/hono.test.mjs) also use the store build,
## OriginAssertions' (tests/js/assertion.test.mjs) the assertion build, DeviceBoundSessions'
## (tests/js/dbsc.test.mjs) the dbsc build, and the options interfaces of the types against what
## the calls take (tests/js/options-contract.test.mjs) all four.
js-test: pkg-node pkg-store pkg-assertion pkg-dbsc
	$(NODE_TEST) tests/js/

## pkg-assertion: the JS library with OriginAssertions (feature `assertion`, off by default), for
## its JS tests (target/pkg-assertion).
pkg-assertion: setup
	$(WASM_PACK) build --release --target nodejs --out-dir target/pkg-assertion -- --features assertion
	$(GLUE) target/pkg-assertion/edge_session.js

## pkg-dbsc: the JS library with DeviceBoundSessions (feature `dbsc`, off by default), for its JS
## tests (target/pkg-dbsc).
pkg-dbsc: setup
	$(WASM_PACK) build --release --target nodejs --out-dir target/pkg-dbsc -- --features dbsc
	$(GLUE) target/pkg-dbsc/edge_session.js

## pkg-www: the JS library as a browser loads it, for the playground (www/pkg, ignored by git).
pkg-www: setup
	$(WASM_PACK) build --release --target web --out-dir www/pkg
	$(GLUE) www/pkg/edge_session.js

## browser-test: the playground page in headless Chromium (playwright-core).
browser-test: pkg-www
	$(NODE_TEST) tests/browser/

## playground: build the wasm and serve www/ on http://127.0.0.1:8080/
playground: pkg-www
	node scripts/serve-www.mjs 8080

## bench: token operations in workerd (Miniflare) and in Node against the JS libraries people
## use today and raw WebCrypto, written into README.md (bench/tokens.mjs --write); the native
## core; the affinity simulation (balance, keys moved) and route() throughput; the npm
## package's wasm sizes and, per runtime, the time from import to the first verify (cold).
bench: setup pkg-node pkg-www pkg
	cargo bench --bench core
	cargo bench --bench jwt
	node bench/tokens.mjs --write
	cargo run --release --example affinity_sim
	node bench/affinity.mjs --write
	node bench/pkg-cold.mjs

## pkg: the npm package `edge-session` in pkg/ (`npm pack --pack-destination ..` there makes the
## tarball, outside pkg/, where a second pack would ship it): imports with
## no init step on Workers, Deno, Bun, Node (ESM and CommonJS), Vercel's edge runtime and browsers
## through bundlers; `edge-session/store`, `edge-session/assertion` and `edge-session/dbsc` have their
## own wasm. Sources in npm/, scripts/build-pkg.mjs.
pkg: setup
	$(WASM_PACK) build --release --target web --out-dir target/npm/base --out-name edge_session --no-pack
	$(WASM_PACK) build --release --target web --out-dir target/npm/store --out-name edge_session_store --no-pack -- --features store
	$(WASM_PACK) build --release --target web --out-dir target/npm/assertion --out-name edge_session_assertion --no-pack -- --features assertion
	$(WASM_PACK) build --release --target web --out-dir target/npm/dbsc --out-name edge_session_dbsc --no-pack -- --features dbsc
	$(GLUE) target/npm/base/edge_session.js target/npm/store/edge_session_store.js \
		target/npm/assertion/edge_session_assertion.js target/npm/dbsc/edge_session_dbsc.js
	node scripts/build-pkg.mjs
	@node scripts/sizes.mjs npm-base npm-store npm-assertion npm-dbsc

## pkg-test: `npm pack` of pkg/ installed into a fresh project as a user installs it, then one
## smoke suite on Node (ES modules and CommonJS, and a server bundle made by esbuild), Deno, Bun,
## workerd (bundled by wrangler), Vercel's edge runtime and Chromium (bundled by esbuild);
## `tsc --noEmit` on a usage file.
pkg-test: pkg
	$(NODE_TEST) --test-concurrency=1 tests/pkg/

## examples-test: each example of examples/ (node, deno, js-worker and hono on wrangler dev) in a
## fresh project with the packed package, over HTTP; README's JavaScript blocks run (or match
## the example files they show).
examples-test: pkg
	$(NODE_TEST) --test-concurrency=1 tests/examples/

## fmt: format the Rust sources (cargo fmt).
fmt: setup
	cargo fmt

## gateway: build the gateway worker into build/ (scripts/build-gateway.sh: wrangler dev and
## deploy run the same): worker-build (cargo profile `gateway`), then wasm-opt -Oz.
gateway: setup
	scripts/build-gateway.sh

## gateway-test: the gateway's test build (into build-test/): the production build plus the store
## conformance suite behind /__edge/store/conformance (feature `gateway-conformance`), for
## tests/e2e/store.test.mjs.
gateway-test: setup
	scripts/build-gateway.sh --test

## pkg-store-web: the JS library with the session store, as a worker imports it (`--target web`),
## plus the test export `runStoreConformance`: what tests/e2e/js-store.test.mjs runs in workerd.
pkg-store-web: setup
	$(WASM_PACK) build --release --target web --out-dir target/pkg-store-web -- --features conformance
	$(GLUE) target/pkg-store-web/edge_session.js

## pkg-store: the JS library with the session store as users build it (`--features store` only,
## unlike the test build above), for `make sizes`.
pkg-store: setup
	$(WASM_PACK) build --release --target nodejs --out-dir target/pkg-store -- --features store
	$(GLUE) target/pkg-store/edge_session.js

## sizes: build every wasm artefact (JS library, with the store, gateway), print raw and gzipped
## bytes against their budgets (scripts/sizes.mjs) and rewrite the table in docs/sizes.md.
sizes: setup pkg-node pkg-store pkg gateway
	node scripts/sizes.mjs --write

## size-check: the JS library (pkg-node/) and the gateway (build/) as last built, against their
## budgets (fails past 10% over, or at all over an issue's target: the JS library's and the npm
## base's 60 KiB, the gateway's 250,000 B); builds nothing and writes nothing. Part of `make test`.
size-check:
	node scripts/sizes.mjs js-base npm-base npm-store npm-assertion npm-dbsc gateway

## e2e: the gateway on wrangler dev (workerd, local KV and Durable Objects) in front of demo
## origins, real HTTP; and the JS library's session stores in workerd.
e2e: gateway gateway-test pkg-store-web
	$(NODE_TEST) --test-concurrency=1 tests/e2e/

## bench-store: session reads and writes per second through the gateway, for STORE = none, kv
## and durable (autocannon, 127.0.0.1, wrangler dev with local KV and Durable Objects).
bench-store: gateway
	node bench/store-load.mjs --write

## bench-gateway: the pipeline's native cost per request; the gateway's CPU time per request
## inside workerd against JS workers (bench/gateway-cpu.mjs), what URL mode's rewriting costs
## by a page's links (bench/url-mode.mjs) and its cold start beside the JS library's
## (bench/cold-start.mjs), all written to docs/gateway-cost.md; then load through the
## gateway vs straight to an origin and vs a plain JS worker (autocannon, 127.0.0.1).
bench-gateway: gateway pkg-www
	cargo bench --bench gateway
	node bench/gateway-cpu.mjs --write
	node bench/url-mode.mjs --write
	node bench/cold-start.mjs --write
	node bench/gateway-load.mjs --write

## bench-assertion: ORIGIN_ASSERTION's cost: its Rust part per request (natively, reused and
## new) and one WebCrypto signature (Ed25519, P-256) inside workerd.
bench-assertion: setup
	cargo bench --bench assertion
	node bench/assertion.mjs

## dev: three demo origins on 127.0.0.1:9001-9003 and the gateway on http://127.0.0.1:8787
## (wrangler dev builds it, rebuilds on changes in src/, keeps KV in .wrangler/). Ctrl-C stops all.
dev:
	@scripts/setup.sh dev
	@scripts/dev.sh

FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= compact_verify sealed_verify jwt_verify json_object base64url cookie_header \
	affinity store_record gateway assertion_verify dbsc_proof

## fuzz: every fuzz target (fuzz/, cargo-fuzz on nightly, installed by scripts/setup-fuzz.sh),
## or the ones FUZZ_TARGETS names, for FUZZ_SECONDS seconds each (default 30), from the
## committed seeds in fuzz/corpus/, with libFuzzer's FUZZ_ARGS (long inputs from the start:
## FUZZ_ARGS="-max_len=4096 -len_control=0"; -max_len alone is a ceiling libFuzzer nears
## slowly, about 500 bytes after 30 minutes of the gateway); the inputs found go to fuzz/work/,
## crashes to fuzz/artifacts/ (neither committed). A crash worth
## keeping goes to fuzz/regressions/<target>/, which `make test` replays (tests/fuzz_corpus.rs).
fuzz:
	@scripts/setup-fuzz.sh
	cargo +nightly fuzz build
	@failed=; for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/work/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		cargo +nightly fuzz run $$t fuzz/work/$$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) $(FUZZ_ARGS) \
			|| failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (inputs in fuzz/artifacts/)"; exit 1; fi
