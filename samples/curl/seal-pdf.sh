#!/usr/bin/env bash
# Seals a PDF with the connector's "Seal PDF" action (operation SealPdf, POST /api/seal): the
# PDF is the request body, the sealed PDF is the answer.
#
# usage: seal-pdf.sh IN.pdf OUT.pdf
#
# Optional seal settings from the environment: SEAL_REASON, SEAL_LOCATION, SEAL_CONTACT_INFO,
# SEAL_FIELD_NAME, SEAL_DIGEST (sha256, sha384 or sha512). The service and the credential:
# SEAL_URL, SEAL_TOKEN, SEAL_FUNCTION_KEY (see lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=samples/curl/lib.sh
. "$here/lib.sh"

[ $# -eq 2 ] || usage "IN.pdf OUT.pdf"
in=$1
out=$2
[ -f "$in" ] || fail "$in is not a file"

query=()
if [ -n "${SEAL_REASON:-}" ]; then query+=(--url-query "reason=$SEAL_REASON"); fi
if [ -n "${SEAL_LOCATION:-}" ]; then query+=(--url-query "location=$SEAL_LOCATION"); fi
if [ -n "${SEAL_CONTACT_INFO:-}" ]; then query+=(--url-query "contactInfo=$SEAL_CONTACT_INFO"); fi
if [ -n "${SEAL_FIELD_NAME:-}" ]; then query+=(--url-query "fieldName=$SEAL_FIELD_NAME"); fi
if [ -n "${SEAL_DIGEST:-}" ]; then query+=(--url-query "digest=$SEAL_DIGEST"); fi

# The answer goes to a file beside OUT.pdf and is moved there only once it is complete.
partial=$(mktemp "$out.XXXXXX")
headers=$(mktemp)
trap 'rm -f "$partial" "$headers"' EXIT

status=$(seal_curl --request POST "${query[@]}" \
  --header "Content-Type: application/pdf" --data-binary "@$in" \
  --output "$partial" --dump-header "$headers" --write-out '%{http_code}' \
  "$base_url/api/seal")
[ "$status" = 200 ] || refused "$status" "$partial"

mv "$partial" "$out"
echo "sealed $out: field $(header_value "$headers" X-Seal-Field-Name)," \
  "document SHA-256 $(header_value "$headers" X-Seal-Document-SHA256)"
