#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (cargo-fuzz, libFuzzer; installed by
# scripts/setup.sh) over their seed corpora in fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh --short            every target 2 s (the tests run this: ~30 s)
#   scripts/fuzz.sh --long [TARGET…]   10 million executions per target
#   scripts/fuzz.sh --runs N [TARGET…] N executions per target
#   scripts/fuzz.sh --time S [TARGET…] S seconds per target
#
# New inputs the fuzzer finds go to fuzz/target/corpus/<target>/ (not kept);
# a crash stops its target, leaves its input in fuzz/artifacts/<target>/ and
# fails the run: fix the parser, add a regression test in its crate, and move
# the input into fuzz/corpus/<target>/. Without a nightly toolchain the
# targets build with RUSTC_BOOTSTRAP=1 (libFuzzer's instrumentation needs -Z flags).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

limit=(-max_total_time=2)
case "${1:-}" in
  --short) shift ;;
  --long) shift; limit=(-runs=10000000) ;;
  --runs) limit=(-runs="$2"); shift 2 ;;
  --time) limit=(-max_total_time="$2"); shift 2 ;;
  *) echo "usage: scripts/fuzz.sh --short | --long | --runs N | --time S [TARGET…]" >&2; exit 2 ;;
esac
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi

export RUSTC_BOOTSTRAP=1
# No sanitizer: the code under test has no `unsafe`; what is hunted is
# panics, overflows (debug assertions are on), hangs and runaway memory.
build=(--sanitizer none --debug-assertions)
cargo fuzz build "${build[@]}" >&2

# The targets' scratch folders, in memory when there is /dev/shm (a crashed
# target removes nothing: this script does).
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
scratch=$(mktemp -d "$base/meshroom-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export MESHROOM_FUZZ_TMP="$scratch"

failed=()
for t in "${targets[@]}"; do
  mkdir -p "target/corpus/$t" "artifacts/$t"
  log="$scratch/$t.log"
  printf '==> fuzz %s\n' "$t" >&2
  if cargo fuzz run "${build[@]}" "$t" "target/corpus/$t" "corpus/$t" -- \
      "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | tail -1 >&2 || true
  else
    tail -40 "$log" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "scripts/fuzz.sh: crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
