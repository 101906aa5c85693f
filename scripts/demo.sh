#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the plugin and
# shows the whole life of one credential.
#   - with `vault` (or OpenBao's `bao`) on PATH: a real dev server, the real CLI;
#   - otherwise: the project's host harness plays Vault (tests/demo).
# Usage: scripts/demo.sh [--harness]   (--harness: skip the real-server path)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

bash scripts/install_deps.sh
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target taskcred taskcred-demo
PLUGIN="$BUILD_DIR/plugin/taskcred"

VAULT_BIN=""
if [[ ${1:-} != --harness ]]; then
  VAULT_BIN=$(command -v vault || command -v bao || true)
fi
if [[ -z $VAULT_BIN ]]; then
  echo "(no vault/bao on PATH: using the project's host harness)"
  exec "$BUILD_DIR/tests/demo/taskcred-demo" --plugin "$PLUGIN"
fi

work=$(mktemp -d)
server_pid=""
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cp "$PLUGIN" "$work/taskcred"
port=${DEMO_PORT:-8299}
export VAULT_ADDR="http://127.0.0.1:$port" BAO_ADDR="http://127.0.0.1:$port"
export VAULT_TOKEN=root BAO_TOKEN=root
echo "== taskcred demo with $(basename "$VAULT_BIN") dev server on $VAULT_ADDR =="
"$VAULT_BIN" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" \
  -dev-plugin-dir="$work" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do "$VAULT_BIN" status >/dev/null 2>&1 && break; sleep 0.2; done
run() { echo "\$ ${*/#$VAULT_BIN/vault}"; "$@"; }

sha=$(sha256sum "$work/taskcred" | cut -d' ' -f1)
run "$VAULT_BIN" plugin register -sha256="$sha" -command=taskcred secret taskcred
run "$VAULT_BIN" secrets enable -path=taskcred taskcred
run "$VAULT_BIN" write taskcred/config signing_algorithm=EdDSA issuer="$VAULT_ADDR/v1/taskcred" \
  default_audience=backup-service
run "$VAULT_BIN" write taskcred/roles/backup-job task=nightly-backup ttl=15m max_ttl=1h \
  grants="write s3://backups/db1/{{snapshot_id}}" grants="read kv://db1/backup-user" \
  parameters=snapshot_id='^[0-9]{1,12}$' audience=backup-service max_uses=1
run "$VAULT_BIN" read taskcred/roles/backup-job
echo "\$ vault write -format=json taskcred/creds/backup-job snapshot_id=4711"
"$VAULT_BIN" write -format=json taskcred/creds/backup-job snapshot_id=4711 >"$work/cred.json"
lease_id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lease_id"])' "$work/cred.json")
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["data"]; d["credential"]=d["credential"][:24]+"..."; print(json.dumps(d, indent=2))' "$work/cred.json"
token=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["credential"])' "$work/cred.json")

echo "\$ curl $VAULT_ADDR/v1/taskcred/.well-known/jwks.json   # unauthenticated"
curl -fsS "$VAULT_ADDR/v1/taskcred/.well-known/jwks.json" >"$work/jwks.json"
/usr/bin/python3 - "$work/jwks.json" "$token" "$VAULT_ADDR/v1/taskcred" <<'PY'
import json, sys, jwt
keys = {k["kid"]: k for k in json.load(open(sys.argv[1]))["keys"]}
token, iss = sys.argv[2], sys.argv[3]
kid = jwt.get_unverified_header(token)["kid"]
claims = jwt.decode(token, key=jwt.PyJWK(keys[kid]).key, algorithms=[keys[kid]["alg"]],
                    issuer=iss, audience="backup-service")
print("PyJWT verified the credential offline: task=%s grants=%s" % (claims["task"], json.dumps(claims["grants"])))
PY
run "$VAULT_BIN" write taskcred/introspect token="$token" resource=s3://backups/db1/4711 action=write
run "$VAULT_BIN" lease revoke "$lease_id"
run "$VAULT_BIN" write taskcred/introspect token="$token"
echo "demo OK"
