#!/usr/bin/env bash
# Prints the rustc flags that make the panic locations a wasm keeps name the registry's sources
# from the crate (`serde_json-1.0.154/src/de.rs`), not this machine's cargo home
# (`/root/.cargo/registry/src/index.crates.io-<hash>/...`): the shipped wasm is the same whoever
# builds it and carries no path of the build machine. One flag per unpacked registry, which
# scripts/setup.sh makes sure of (`cargo fetch`) before any build; the registries' parent too, for
# a build before that (the more precise flags win where they match). The standard library's
# paths stay `/rustc/<commit>/library/...`, as it was built: a remap does not reach them.
src="${CARGO_HOME:-$HOME/.cargo}/registry/src"
printf -- '--remap-path-prefix=%s/=' "$src"
for dir in "$src"/*/; do
  [ -d "$dir" ] && printf -- ' --remap-path-prefix=%s=' "$dir"
done
echo
