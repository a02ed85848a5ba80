#!/usr/bin/env bash
# Asks once for a seal job with the connector's internal "Get the status of a seal job" action
# (operation GetSealJob, GET /api/seal-jobs/{id}), the status URL that flows poll by themselves.
# Prints the job (JSON) on standard output and its state on standard error; exits 0 while the
# job is pending (202) or done (200), 1 when it failed or is unknown.
#
# usage: get-seal-job.sh JOB_ID
#
# The service and the credential: SEAL_URL, SEAL_TOKEN, SEAL_FUNCTION_KEY (see lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=samples/curl/lib.sh
. "$here/lib.sh"

[ $# -eq 1 ] || usage "JOB_ID"
job_id=$1
case $job_id in
  '' | *[!A-Za-z0-9_-]*) fail "${job_id@Q} is not a job id (letters, digits, '-' and '_')" ;;
esac

answer=$(mktemp)
trap 'rm -f "$answer"' EXIT
status=$(seal_curl --output "$answer" --write-out '%{http_code}' \
  "$base_url/api/seal-jobs/$job_id")
case $status in
  200) echo "job $job_id is done" >&2 ;;
  202) echo "job $job_id is still pending" >&2 ;;
  *) refused "$status" "$answer" ;;
esac
cat "$answer"
echo
