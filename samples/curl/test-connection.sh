#!/usr/bin/env bash
# Checks the address and the credential the way the connector's connection test does
# (operation TestConnection, GET /api/connection). Prints the service's answer (JSON: status,
# version, blobMode) and exits 0 when the service accepts the call.
#
# usage: test-connection.sh
#
# The service and the credential: SEAL_URL, SEAL_TOKEN, SEAL_FUNCTION_KEY (see lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=samples/curl/lib.sh
. "$here/lib.sh"

[ $# -eq 0 ] || usage ""

answer=$(mktemp)
trap 'rm -f "$answer"' EXIT
status=$(seal_curl --output "$answer" --write-out '%{http_code}' "$base_url/api/connection")
[ "$status" = 200 ] || refused "$status" "$answer"
cat "$answer"
echo
