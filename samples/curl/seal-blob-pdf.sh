#!/usr/bin/env bash
# Seals a PDF blob with the connector's "Seal a PDF in Blob Storage" action (operation
# SealBlobPdf, POST /api/seal-jobs), then does what Power Automate does by itself: follows the
# job's Location, waiting Retry-After seconds between looks, until the job answers 200. Prints
# the finished job (JSON: destination, sizeBytes, sha256, ...) on standard output.
#
# usage: seal-blob-pdf.sh CONTAINER BLOB DEST_CONTAINER DEST_BLOB
#
# Optional, from the environment: SEAL_REASON; SEAL_OVERWRITE=true to replace an existing
# destination; SEAL_IDEMPOTENCY_KEY (default: a new random key for each run; curl's own retries
# of the request reuse it, so they create no second job); SEAL_WAIT_SECS, the longest wait for
# the job (default 600). The service and the credential: SEAL_URL, SEAL_TOKEN,
# SEAL_FUNCTION_KEY (see lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=samples/curl/lib.sh
. "$here/lib.sh"

[ $# -eq 4 ] || usage "CONTAINER BLOB DEST_CONTAINER DEST_BLOB"
overwrite=${SEAL_OVERWRITE:-false}
case $overwrite in
  true | false) ;;
  *) fail "SEAL_OVERWRITE must be true or false, not ${overwrite@Q}" ;;
esac
key=${SEAL_IDEMPOTENCY_KEY:-seal-blob-pdf-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
wait_secs=${SEAL_WAIT_SECS:-600}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '{"source": {"container": "%s", "blob": "%s"}, "destination": {"container": "%s", "blob": "%s"}, "overwrite": %s, "reason": "%s"}' \
  "$(json_string "$1")" "$(json_string "$2")" "$(json_string "$3")" "$(json_string "$4")" \
  "$overwrite" "$(json_string "${SEAL_REASON:-}")" >"$dir/request.json"

status=$(seal_curl --request POST --retry 3 \
  --header "Content-Type: application/json" --header "Idempotency-Key: $key" \
  --data-binary "@$dir/request.json" \
  --output "$dir/answer" --dump-header "$dir/headers" --write-out '%{http_code}' \
  "$base_url/api/seal-jobs")
[ "$status" = 202 ] || refused "$status" "$dir/answer"

# The credential goes only to the service named in SEAL_URL, wherever Location points.
location=$(header_value "$dir/headers" Location)
case $location in
  "$base_url"/*) ;;
  *) fail "the job's Location ${location@Q} is not on $base_url; set SEAL_URL to the address the service announces" ;;
esac
deadline=$((SECONDS + wait_secs))

while :; do
  wait=$(header_value "$dir/headers" Retry-After)
  case $wait in
    '' | *[!0-9]*) wait=5 ;;
  esac
  if [ "$wait" -gt 60 ]; then wait=60; fi
  [ $((SECONDS + wait)) -le "$deadline" ] || fail "the job is still running after $wait_secs s: $location"
  sleep "$wait"

  status=$(seal_curl --retry 3 \
    --output "$dir/answer" --dump-header "$dir/headers" --write-out '%{http_code}' \
    "$location")
  case $status in
    200) cat "$dir/answer"; echo; exit 0 ;;
    202) ;;
    *) refused "$status" "$dir/answer" ;;
  esac
done
