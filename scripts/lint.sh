#!/usr/bin/env bash
# The habits CI enforces, each a check that fails the run:
#   - formatting (`cargo fmt --check`, host workspace, adapters and fuzz targets);
#   - clippy with every warning an error, host workspace and adapters;
#   - rustdoc with every warning an error;
#   - no unused dependency (cargo-machete, installed by scripts/setup.sh).
# Every check runs even when an earlier one fails; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
check() {
  local name=$1; shift
  printf '==> %s\n' "$name" >&2
  "$@" || failed+=("$name")
}
check "cargo fmt" cargo fmt --all -- --check
check "cargo fmt (adapters)" cargo fmt --manifest-path adapters/Cargo.toml --all -- --check
check "cargo fmt (fuzz)" cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check
check "cargo clippy" cargo clippy --workspace --all-targets --quiet -- -D warnings
check "cargo clippy (adapters)" cargo clippy --manifest-path adapters/Cargo.toml --target wasm32-wasip2 --workspace --all-targets --quiet -- -D warnings
check "cargo doc" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
check "cargo machete" cargo machete
check "cargo machete (adapters)" cargo machete adapters
if [ ${#failed[@]} -gt 0 ]; then
  echo "scripts/lint.sh: failed: ${failed[*]}" >&2
  exit 1
fi
