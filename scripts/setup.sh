#!/usr/bin/env bash
# Installs what building and testing need, skipping whatever is already there at the right
# version. Safe to run again and again; `make test` and `make dev` run it first.
#
#   scripts/setup.sh        everything `make test` needs
#   scripts/setup.sh dev    what `make dev` needs (the gateway built and run locally): not the
#                           oldest toolchains, wasm-pack, Chromium or PyJWT, which only tests use
#
# Needs rustup and cargo (in CARGO_HOME, default ~/.cargo), Node 20.19+ with npm; for tests also
# python3 and apt (Debian) for Chromium and pip.
set -euo pipefail
cd "$(dirname "$0")/.."
dev=$([ "${1:-}" = dev ] && echo 1 || true)

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
WASM_PACK_VERSION=0.15
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# What fetches from a registry is tried three times: a registry's passing failure (a timeout, a
# 503) fails no run. Each step below is safe to repeat (`npm ci` starts from an empty
# node_modules, `cargo install --force` overwrites).
retry() {
  local pause
  for pause in 10 30; do
    "$@" && return 0
    say "failed, again in $pause s: $*" >&2
    sleep "$pause"
  done
  "$@"
}

# Node first: vite needs 20.19+ or 22.12+ (wrangler and @noble/hashes are content with those), and
# `npm ci` only warns about another (the run would fail much later, after the builds). Node also
# gzips for the size budgets, so its version is part of those figures (docs/sizes.md).
node_version=$(node --version 2>/dev/null || echo none)
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)' 2>/dev/null; then
  say "Node 20.19+ or 22.12+ is needed (found: $node_version): install it (https://nodejs.org, or your distribution's nodesource package) and run again" >&2
  exit 1
fi

# The Rust of rust-toolchain.toml, with its components and the wasm32 target (rustup would
# install it on first use too; here it happens once, visibly, with retries).
RUST_VERSION=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$RUST_VERSION-"; then
  say "installing Rust $RUST_VERSION (rust-toolchain.toml)"
  retry rustup toolchain install "$RUST_VERSION" --profile minimal --component clippy,rustfmt --target wasm32-unknown-unknown
fi
# A Debian package, once the package lists are fresh.
apt_updated=
apt_install() {
  local sudo
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  say "installing $1 (apt)"
  [ -n "$apt_updated" ] || retry $sudo apt-get update -qq
  apt_updated=1
  DEBIAN_FRONTEND=noninteractive retry $sudo apt-get install -y -qq "$1" >/dev/null
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  retry rustup target add wasm32-unknown-unknown
fi
rustup component list --installed | grep -q '^clippy' || retry rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || retry rustup component add rustfmt

# The crates of Cargo.lock, unpacked before any build: the wasm's panic locations are remapped
# per unpacked registry (scripts/remap-flags.sh), so a build must not be the one that unpacks it.
retry cargo fetch --locked --quiet

# The oldest Rust the crate says it builds with (`make msrv`): Cargo.toml's rust-version, and the
# gateway's (Makefile, GATEWAY_MSRV), each with the wasm32 target.
for msrv in "$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)" "$(sed -n 's/^GATEWAY_MSRV := //p' Makefile)"; do
  if [ -z "$dev" ] && ! rustup +"$msrv" target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "installing Rust $msrv (minimal, with wasm32), the oldest the crate builds with"
    retry rustup toolchain install "$msrv" --profile minimal --target wasm32-unknown-unknown
  fi
done

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches the pinned crate)"
  # Not --locked: the CLI's lockfile names a webpki-roots version the registry no longer serves.
  retry cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ -z "$dev" ] && ! wasm-pack --version 2>/dev/null | grep -q "^wasm-pack $WASM_PACK_VERSION\."; then
  say "installing wasm-pack $WASM_PACK_VERSION"
  retry cargo install wasm-pack --version "~$WASM_PACK_VERSION" --locked --force
fi

# worker-build (builds the gateway worker, see wrangler.toml) at the `worker` crate's version.
WORKER_BUILD_VERSION=$(sed -n 's/^worker = { version = "\([0-9.]*\)".*/\1/p' Cargo.toml)
if [ "$(worker-build --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION"
  retry cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

# Chromium, for the playground's browser test (Debian's package; playwright-core drives it): the
# tests launch $CHROMIUM, by default /usr/bin/chromium, which is what is looked for.
if [ -z "$dev" ] && [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  apt_install chromium
fi

# npm packages from the committed lockfile: wrangler, binaryen (wasm-opt), esbuild, the runtimes
# the npm package is tested on (deno, bun, edge-runtime), typescript and the
# benchmark baselines. Reinstall only when the lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.setup-lock; then
  say "installing npm packages from package-lock.json"
  retry npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.setup-lock
fi

# PyJWT for the Python origin verifier the e2e tests run (examples/origin-verify/verify.py): 2.14
# or later, whose PyJWKClient takes cooldown_duration (an older one, from the system, is upgraded).
if [ -z "$dev" ] && ! python3 -c "import inspect, jwt, cryptography; assert 'cooldown_duration' in inspect.signature(jwt.PyJWKClient).parameters" 2>/dev/null; then
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  say "installing pyjwt>=2.14 and cryptography (pip)"
  python3 -m pip install --quiet --disable-pip-version-check "pyjwt>=2.14" cryptography 2>/dev/null \
    || retry python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages "pyjwt>=2.14" cryptography
fi
