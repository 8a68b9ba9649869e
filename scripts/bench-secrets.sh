#!/usr/bin/env bash
# Benchmark of the secrets store through the real binary: median wall time of
# `meshroom secrets get|set|list` on a store of N secrets (default 1000),
# encrypted to one age X25519 recipient, and of `get` on a passphrase store.
# Usage: scripts/bench-secrets.sh [N] [RUNS]   (MESHROOM_BIN overrides the binary)
set -euo pipefail
N=${1:-1000}
RUNS=${2:-21}
BIN=${MESHROOM_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/debug/meshroom}
[ -x "$BIN" ] || { echo "build first: cargo build -p meshroom-host ($BIN missing)" >&2; exit 1; }
command -v age >/dev/null || { echo "needs the age CLI (apt-get install age)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config
unset MESHROOM_AGE_IDENTITY MESHROOM_AGE_IDENTITY_FILE MESHROOM_SECRETS_PASSPHRASE RUST_LOG
P=$WORK/project
mkdir -p "$P/products" "$P/instances" "$HOME"
"$BIN" -q -p "$P" secrets init >/dev/null

# A store of N secrets over N/10 instances, written by the age CLI.
python3 - "$N" >"$WORK/doc.json" <<'PY'
import json, secrets, sys
n = int(sys.argv[1])
scopes = {}
for i in range(n):
    scopes.setdefault(f"instance:product{(i // 10) % 50}/inst{i // 10}", {})[f"key{i}"] = secrets.token_hex(24)
print(json.dumps({"version": 1, "scopes": scopes}))
PY
age -e -a -R "$P/secrets.recipients" -o "$P/secrets.age" "$WORK/doc.json"

median_ms() { # command… → median wall time in ms over $RUNS runs
  local t=()
  for _ in $(seq "$RUNS"); do
    local s=$(date +%s%N)
    "$@" >/dev/null 2>&1 </dev/null || { echo "failed: $*" >&2; exit 1; }
    t+=($(( ($(date +%s%N) - s) / 1000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
set_one() { echo "v-$RANDOM" | "$BIN" -p "$P" secrets set instance:product0/inst0 key1; }

echo "binary: $BIN; store: $N secrets ($(wc -c <"$P/secrets.age") bytes armored); $RUNS runs each"
echo "completions (process start, no store) : $(median_ms "$BIN" completions bash) ms"
echo "secrets get --reveal (decrypt + parse) : $(median_ms "$BIN" -p "$P" secrets get instance:product0/inst0 key1 --reveal) ms"
echo "secrets list --json                    : $(median_ms "$BIN" -p "$P" --json secrets list) ms"
echo "secrets set (decrypt + encrypt + write): $(median_ms set_one) ms"

Q=$WORK/pass
mkdir -p "$Q"
echo secret | MESHROOM_SECRETS_PASSPHRASE=bench "$BIN" -p "$Q" secrets set a/b token
RUNS=5
echo "secrets get, passphrase store (scrypt) : $(MESHROOM_SECRETS_PASSPHRASE=bench median_ms "$BIN" -p "$Q" secrets get a/b token --reveal) ms (5 runs)"
