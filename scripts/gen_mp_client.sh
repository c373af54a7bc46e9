#!/usr/bin/env bash
# Regenerate the mini-program's TypeScript types from the served OpenAPI document.
#   scripts/gen_mp_client.sh          write mp_client/openapi.json and mp_client/api.d.ts
#   scripts/gen_mp_client.sh --check  regenerate into a temp dir and fail if the committed files differ
# Needs the project's Python environment and node/npx (openapi-typescript from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
OPENAPI_TYPESCRIPT_VERSION=7.13.0
out=mp_client
if [[ "${1:-}" == "--check" ]]; then
  out=$(mktemp -d)
fi
python scripts/dump_mp_openapi.py "$out/openapi.json" 2>/dev/null | tail -1
npx --yes "openapi-typescript@${OPENAPI_TYPESCRIPT_VERSION}" "$out/openapi.json" -o "$out/api.d.ts" >/dev/null
if [[ "${1:-}" == "--check" ]]; then
  for f in openapi.json api.d.ts; do
    if ! diff -q "mp_client/$f" "$out/$f" >/dev/null; then
      echo "mp_client/$f is out of date: run scripts/gen_mp_client.sh and commit the result" >&2
      exit 1
    fi
  done
  echo "mp_client is up to date"
else
  echo "wrote mp_client/openapi.json and mp_client/api.d.ts"
fi
