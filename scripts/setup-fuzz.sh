#!/usr/bin/env bash
# What `make fuzz` needs and `make test` does not: a nightly toolchain (libFuzzer builds need
# the sanitizer flags only nightly takes) and cargo-fuzz. Skips whatever is already installed.
set -euo pipefail
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '\033[1msetup-fuzz:\033[0m %s\n' "$*"; }

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  say "installing the nightly toolchain (minimal profile)"
  rustup toolchain install nightly --profile minimal
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
