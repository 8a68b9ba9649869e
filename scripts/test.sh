#!/usr/bin/env bash
# Runs the whole test suite: the habits CI enforces (`scripts/lint.sh`:
# formatting, clippy, rustdoc, unused dependencies), builds the adapters
# (wasm32-wasip2), then every test of the workspace (services the tests need
# are started by the tests), then a short run of every fuzz target
# (`scripts/fuzz.sh --short`, ~30 s), then the README's main command, the
# example mesh (`scripts/example.sh`). Every part runs even when another fails; exits
# non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
if [ -x scripts/build-adapters.sh ]; then bash scripts/build-adapters.sh; fi
lint=0
bash scripts/lint.sh || lint=$?
tests=0
cargo test --workspace --all-targets --no-fail-fast || tests=$?
fuzz=0
bash scripts/fuzz.sh --short || fuzz=$?
# CI (`.ci/run` sets CI=1) frees the instrumented fuzz build (~4 GB) before the
# example builds more: its disk is not ours to fill.
if [ -n "${CI:-}" ]; then rm -rf fuzz/target; fi
example=0
bash scripts/example.sh || example=$?
if [ "$lint" -ne 0 ]; then echo "scripts/test.sh: scripts/lint.sh failed (exit $lint)" >&2; fi
if [ "$tests" -ne 0 ]; then echo "scripts/test.sh: cargo test failed (exit $tests)" >&2; fi
if [ "$fuzz" -ne 0 ]; then echo "scripts/test.sh: scripts/fuzz.sh --short failed (exit $fuzz)" >&2; fi
if [ "$example" -ne 0 ]; then echo "scripts/test.sh: scripts/example.sh failed (exit $example)" >&2; fi
[ "$lint" -eq 0 ] && [ "$tests" -eq 0 ] && [ "$fuzz" -eq 0 ] && [ "$example" -eq 0 ]
