#!/usr/bin/env bash
# The example mesh, end to end, on this machine:
#
#   a vendor publishes four real products (Caddy, rsyslog, CrowdSec, a TAXII
#   server) to the embedded OCI image-layout registry, signed with its key; an
#   operator whose trust policy requires that key pulls them (verified) into a
#   new project, adds one instance of each, plugs Caddy's access events
#   into rsyslog, and `meshroom up` configures the products so the data flows;
#   then denies an IP on CrowdSec and on Caddy, shares a STIX indicator through
#   TAXII, checks for drift and tears everything down.
#
# Every product runs on 127.0.0.1 in a temporary folder and is stopped at the
# end. Exits non-zero if any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bold() { printf '\n\033[1;36m━━ %s\033[0m\n' "$*"; }
say() { printf '\033[2m%s\033[0m\n' "$*"; }
run() { printf '\033[1m$ meshroom %s\033[0m\n' "$*"; "$MESHROOM" "$@"; }
fail() { printf '\033[1;31merror: %s\033[0m\n' "$*" >&2; exit 1; }

bold "1. install what is missing, build meshroom and the adapters"
bash scripts/setup.sh
cargo build -q -p meshroom-host -p meshroom-tests --bin meshroom --bin meshroom-service
bash scripts/build-adapters.sh 2>/dev/null
MESHROOM=$ROOT/target/debug/meshroom
WASM_DIR=$ROOT/adapters/target/wasm32-wasip2/release

WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshroom-example.XXXXXX")
SERVICES_PID=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  [ -n "$SERVICES_PID" ] && wait "$SERVICES_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# Everything meshroom keeps outside the project lives in the temp folder too.
export MESHROOM_CACHE=$WORK/cache
export MESHROOM_REGISTRY_DIR=$WORK/registry
export MESHROOM_AUTH_FILE=$WORK/auth.json
export MESHROOM_KEYS_DIR=$WORK/keys
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

bold "2. start the four products on 127.0.0.1"
mkfifo "$WORK/ctl"
"$ROOT/target/debug/meshroom-service" --env caddy rsyslog crowdsec taxii <"$WORK/ctl" >"$WORK/services.env" &
SERVICES_PID=$!
exec 3>"$WORK/ctl"
for _ in $(seq 1 300); do
  grep -q '^MESHROOM_SERVICES_READY=1' "$WORK/services.env" 2>/dev/null && break
  kill -0 "$SERVICES_PID" 2>/dev/null || fail "the products failed to start"
  sleep 0.1
done
# shellcheck disable=SC1091
source "$WORK/services.env"
say "caddy admin $CADDY_ADMIN_URL, site $CADDY_HTTP_URL"
say "rsyslog     tcp://$RSYSLOG_ADDR"
say "crowdsec    $CROWDSEC_URL"
say "taxii       $TAXII_URL"

bold "3. vendor side: a signing key, then publish and sign each product (definition + adapter) to the embedded registry"
VENDOR=$WORK/vendor
"$MESHROOM" -q init "$VENDOR" >/dev/null
# The passphrase of the vendor's private key comes from the environment, never argv.
export MESHROOM_KEY_PASSPHRASE="example vendor passphrase"
run keys generate example-vendor
for product in caddy rsyslog crowdsec medallion; do
  mkdir -p "$VENDOR/products/$product"
  cp "adapters/$product/definition.yaml" "$VENDOR/products/$product/"
  cp "$WASM_DIR/$product.wasm" "$VENDOR/products/$product/"
  # The adapter's conformance suite (scenarios + cassettes) travels with it.
  if [ -d "adapters/$product/tests" ]; then cp -r "adapters/$product/tests" "$VENDOR/products/$product/"; fi
  run -p "$VENDOR" publish "$product" --to "example/$product:0.1.0" --sign example-vendor
done
unset MESHROOM_KEY_PASSPHRASE

bold "4. operator side: a new project that trusts the vendor's key, pull the products (verified)"
PROJECT=$WORK/soc
run init "$PROJECT"
cd "$PROJECT"
mkdir -p keys
cp "$MESHROOM_KEYS_DIR/example-vendor.pub" keys/
cat >trust.yaml <<'EOF'
keys:
  example-vendor: keys/example-vendor.pub
rules:
- match: example/
  require: signed
  keys: [example-vendor]
- match: "*"
  require: signed
- match: local
  require: any
EOF
say "trust.yaml: every example/ product must be signed by the vendor's key"
run verify example/caddy:0.1.0
age-keygen -o "$WORK/identity.txt" 2>/dev/null
export MESHROOM_AGE_IDENTITY_FILE=$WORK/identity.txt
run secrets recipients add "$(age-keygen -y "$WORK/identity.txt")"
for product in caddy rsyslog crowdsec medallion; do
  run pull "example/$product:0.1.0"
done
run list products
say "each pulled adapter's conformance suite, replayed offline before anything runs against a product"
run test

bold "5. add one instance of each (secrets read from stdin, no terminal needed)"
run add caddy edge -c "admin_url=$CADDY_ADMIN_URL"
run add rsyslog collector -c "address=$RSYSLOG_ADDR"
printf '%s\n%s\n' "$CROWDSEC_PASSWORD" "$CROWDSEC_BOUNCER_KEY" |
  run add crowdsec ips -c "url=$CROWDSEC_URL" -c "machine_id=$CROWDSEC_MACHINE_ID" -s password -s bouncer_key
printf '%s\n' "$TAXII_PASSWORD" |
  run add medallion tip -c "url=$TAXII_URL" -c "api_root=$TAXII_API_ROOT" \
    -c "collection_id=$TAXII_COLLECTION_ID" -c "username=$TAXII_USER" -s password
run list instances

bold "6. plug Caddy's access events into rsyslog, plan and apply"
run plug events edge collector
run list plugs
run plan
run up
run list plugs

bold "7. traffic through Caddy arrives at rsyslog as access events"
for i in 1 2 3; do curl -fsS -o /dev/null "$CADDY_HTTP_URL/example/$i"; done
for _ in $(seq 1 50); do
  [ "$(grep -c '/example/' "$RSYSLOG_RECEIVED_LOG" 2>/dev/null || true)" -ge 3 ] && break
  sleep 0.1
done
grep '/example/' "$RSYSLOG_RECEIVED_LOG" | cut -c1-160 || fail "no access event reached rsyslog"

bold "8. deny 127.0.0.2 on Caddy and on CrowdSec"
say "before: $(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$CADDY_HTTP_URL/") from 127.0.0.2"
run execute deny edge -p ip=127.0.0.2
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$CADDY_HTTP_URL/")
say "after:  $code from 127.0.0.2, $(curl -s -o /dev/null -w '%{http_code}' "$CADDY_HTTP_URL/") from 127.0.0.1"
[ "$code" = 403 ] || fail "Caddy did not block 127.0.0.2 (HTTP $code)"
run execute deny ips -p ip=203.0.113.7 -p duration=1h
say "CrowdSec's own API lists the decision:"
curl -fsS -H "X-Api-Key: $CROWDSEC_BOUNCER_KEY" "$CROWDSEC_URL/v1/decisions?ip=203.0.113.7" | tee "$WORK/decisions.json"
echo
grep -q '"value":"203.0.113.7"' "$WORK/decisions.json" || fail "CrowdSec has no decision for 203.0.113.7"
run execute allow edge -p ip=127.0.0.2
run execute allow ips -p ip=203.0.113.7

bold "9. share a STIX indicator through the TAXII server and watch it come back"
INDICATOR='{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"meshroom example","pattern":"[ipv4-addr:value = '"'"'203.0.113.7'"'"']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}'
echo "$INDICATOR" | run produce threats tip
run watch threats tip --count 1 --timeout 10 | tee "$WORK/watched.txt"
grep -q 'indicator--8e2e2d2b' "$WORK/watched.txt" || fail "the indicator did not come back"

bold "10. check for drift, then tear everything down"
run check
run down
run list plugs
logs=$(curl -s "$CADDY_ADMIN_URL/config/logging/logs/")
say "Caddy's loggers after down: $logs"
case "$logs" in *meshroom_*) fail "down left meshroom's logger in Caddy" ;; esac

bold "done: the example mesh was configured, exercised and removed; stopping the products"
