#!/usr/bin/env bash
# Builds every adapter in adapters/ for wasm32-wasip2 (release profile: small
# guests). Output: adapters/target/wasm32-wasip2/release/<crate>.wasm
# (crate names with `-` become `_`, e.g. example_http.wasm, hostile.wasm).
# Cargo only rebuilds what changed, so running it before every test is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "error: the wasm32-wasip2 target is missing: run \`rustup target add wasm32-wasip2\`" >&2
  exit 1
fi
cargo build --manifest-path adapters/Cargo.toml --target wasm32-wasip2 --release "$@"
ls -l adapters/target/wasm32-wasip2/release/*.wasm >&2
