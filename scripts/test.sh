#!/usr/bin/env bash
# Runs the whole test suite: builds the adapters (wasm32-wasip2), then every
# test of the workspace. Services the tests need are started by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
if [ -x scripts/build-adapters.sh ]; then bash scripts/build-adapters.sh; fi
cargo test --workspace --all-targets --no-fail-fast
