#!/usr/bin/env bash
# meshroom beside the original Meshroom 0.3.4 on the same generated projects,
# in one run: listings of the 3,000-plug mesh and `up` of 500 plugs with the
# same Python hook file (see scripts/bench-vs-original.py). Prints a Markdown
# table of medians and ratios, with the machine's load.
# Usage: scripts/bench-vs-original.sh   (RUNS=N, ORIGINAL_RUNS=N; MESHROOM_BIN overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
BIN=${MESHROOM_BIN:-$PWD/target/release/meshroom}
if [ -z "${MESHROOM_BIN:-}" ]; then cargo build --release -q -p meshroom-host --bin meshroom; fi
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
exec target/meshroom-venv/bin/python scripts/bench-vs-original.py "$BIN" \
  "$PWD/target/meshroom-venv/bin/python" "$PWD/target/pyvenv/bin/componentize-py"
