#!/usr/bin/env bash
# Conformance: start the real server, then run schemathesis (pinned) against the OpenAPI
# document it serves, with a key holding every permission, and a typed client generated
# from the same document (openapi-python-client, pinned) that lists employees.
# Needs Python 3 with venv and pip; builds the release server binary itself.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS=4.32.5
CLIENT_GENERATOR=0.29.1
BIN=target/release/mtime-server
cargo build --release --locked --bin mtime-server
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS" "openapi-python-client==$CLIENT_GENERATOR"

key=$("$BIN" init --data-dir "$work/data" | tail -n 1)
case "$key" in mtime_ak_*) ;; *) echo "mtime-server init printed no key"; exit 1 ;; esac
# Webhooks may point at loopback only: whatever URLs the generated requests carry, the
# server refuses them or delivers to this machine.
"$BIN" serve --data-dir "$work/data" --listen 127.0.0.1:0 --webhook-hosts 127.0.0.1,::1 \
  >"$work/serve.out" 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
echo "server at $url"

# Every operation, a fixed number of examples each, a fixed seed: the same run every time.
"$work/venv/bin/schemathesis" run "$url/api/openapi.json" \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error,response_schema_conformance,negative_data_rejection,ignored_auth,status_code_conformance,content_type_conformance \
  --max-examples 30 --seed 20261204 --generation-database none \
  2>&1 | tee "$work/schemathesis.log" | tail -n 25
grep -Eq "Tested: ([0-9]+)" "$work/schemathesis.log"
tested=$(sed -nE 's/.*Tested: ([0-9]+).*/\1/p' "$work/schemathesis.log")
selected=$(sed -nE 's/.*Selected: ([0-9]+)\/([0-9]+).*/\2/p' "$work/schemathesis.log")
if [ "$tested" != "$selected" ]; then
  echo "schemathesis exercised $tested of $selected operations"
  exit 1
fi

# A typed client generated from the served document lists an employee created through it.
"$work/venv/bin/python" - "$url" "$key" "$work/openapi.json" <<'PY'
import json, sys, urllib.request

url, key, out = sys.argv[1:4]

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        return response.read()

site = json.loads(call("POST", "/api/org-units", {"name": "Plant", "time_zone": "America/Chicago"}))
call("POST", "/api/employees", {"number": "E01", "name": "Ann", "org_unit_id": site["id"]})
with open(out, "wb") as f:
    f.write(call("GET", "/api/openapi.json"))
PY
(cd "$work" && "$work/venv/bin/openapi-python-client" generate --path openapi.json \
  --output-path client --meta setup >"$work/generate.log" 2>&1 || true)
test -d "$work/client/mtime_client" || {
  cat "$work/generate.log"
  echo "client generation failed"
  exit 1
}
"$work/venv/bin/pip" install -q "$work/client"
"$work/venv/bin/python" .ci/list_employees.py "$url" "$key" E01

# The server's log names callers by key id, never by key.
if grep -qF "${key#mtime_ak_}" "$work/serve.log"; then
  echo "an API key reached the server log"
  exit 1
fi
if grep -qE "mtime_whsec_[0-9a-f]" "$work/serve.log"; then
  echo "a webhook secret reached the server log"
  exit 1
fi
echo "conformance passed"
