#!/usr/bin/env bash
# Installs everything meshroom's build, example and tests need on a fresh
# Debian 12 machine with the Rust toolchain. Idempotent: re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# Debian packages: real products and tools the example mesh and the tests use.
# bsdutils: `script`, the pty the terminal-escaping tests run meshroom on.
# chromium + chromium-driver: the `meshroom ui` page in a real browser, headless
# (host/tests/it/ui/browser.rs, and the ui bench).
APT_PACKAGES=(docker-registry apache2-utils skopeo age rsyslog caddy crowdsec graphviz python3-venv bsdutils chromium chromium-driver)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  # crowdsec's post-install step registers with the central API unless this file is non-empty.
  $SUDO mkdir -p /etc/crowdsec
  [ -s /etc/crowdsec/online_api_credentials.yaml ] ||
    echo '# central API disabled' | $SUDO tee /etc/crowdsec/online_api_credentials.yaml >/dev/null
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The target adapters are built for.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  log "adding the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

# rustfmt (a test checks that the adapter code `create product` scaffolds is
# rustfmt-clean; scripts/lint.sh checks the tree) and clippy (scripts/lint.sh).
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep "^$component" >/dev/null; then
    log "adding the $component component"
    rustup component add "$component"
  fi
done

# The unused-dependency check of scripts/lint.sh.
MACHETE_VERSION=0.9.2
if ! cargo machete --version 2>/dev/null | grep -qF "$MACHETE_VERSION"; then
  log "installing cargo-machete $MACHETE_VERSION"
  cargo install --quiet --locked cargo-machete --version "$MACHETE_VERSION"
fi

# cargo-fuzz (libFuzzer), for the fuzz targets of fuzz/ (scripts/fuzz.sh).
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# A venv with the TAXII 2.1 server (medallion) the TIP adapter talks to.
VENV="${MESHROOM_VENV:-$PWD/target/venv}"
if [ ! -x "$VENV/bin/medallion" ]; then
  log "creating $VENV with medallion 3.0.0"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q medallion==3.0.0
fi

# The Python `cryptography` package (pinned) in the same venv: the signing tests'
# independent cosign signer and verifier (host/tests/it/signing.rs), written from
# cosign's specification, check meshroom's signatures both ways.
CRYPTOGRAPHY_VERSION=48.0.0
if ! "$VENV/bin/python" -c "import sys, cryptography; sys.exit(cryptography.__version__ != '$CRYPTOGRAPHY_VERSION')" 2>/dev/null; then
  log "installing cryptography $CRYPTOGRAPHY_VERSION into $VENV"
  "$VENV/bin/python" -m pip install -q "cryptography==$CRYPTOGRAPHY_VERSION"
fi

# componentize-py (pinned): `meshroom build` turns a product's Python hooks
# into a component with it. A venv of its own, so its site-packages stay small.
PYVENV="${MESHROOM_PYVENV:-$PWD/target/pyvenv}"
if [ ! -x "$PYVENV/bin/componentize-py" ] || ! "$PYVENV/bin/pip" show componentize-py 2>/dev/null | grep -x "Version: 0.25.1" >/dev/null; then
  log "creating $PYVENV with componentize-py 0.25.1"
  python3 -m venv "$PYVENV"
  "$PYVENV/bin/pip" install -q componentize-py==0.25.1
fi

# The original Meshroom 0.3.4, pinned, in its own venv: the differential listing
# test (host/tests/it/listing_parity.rs) generates projects with its CLI and
# compares its listings with ours.
ORIGINAL_VENV="${MESHROOM_ORIGINAL_VENV:-$PWD/target/meshroom-venv}"
if [ "$("$ORIGINAL_VENV/bin/meshroom" --version 2>/dev/null)" != "0.3.4" ]; then
  log "creating $ORIGINAL_VENV with meshroom 0.3.4"
  python3 -m venv "$ORIGINAL_VENV"
  "$ORIGINAL_VENV/bin/pip" install -q meshroom==0.3.4
fi
