# shellcheck shell=bash
# What the curl samples share; sourced by each of them, never run on its own.
#
# The service and the credential come from the environment:
#   SEAL_URL           the service's address (default http://127.0.0.1:7071, where
#                      `cargo run -- serve` listens)
#   SEAL_TOKEN         an Entra ID access token for the API, sent as "Authorization: Bearer"
#   SEAL_FUNCTION_KEY  an Azure Functions key, sent as "x-functions-key"
# A local service on loopback runs without authentication and needs neither.

base_url=${SEAL_URL:-http://127.0.0.1:7071}
base_url=${base_url%/}

# Prints the usage line of the calling script, and exits.
usage() {
  echo "usage: $0 $1" >&2
  exit 2
}

# Prints a message naming the calling script, and exits.
fail() {
  echo "$(basename "$0"): $1" >&2
  exit 1
}

# curl with the credential. The credential goes to curl on its standard input, as curl
# configuration, so that it never shows on a command line (which other users of the machine can
# list); the request body must therefore come from a file.
seal_curl() {
  curl --silent --show-error --config - "$@" <<CONFIG
$(credential_config)
CONFIG
}

credential_config() {
  if [ -n "${SEAL_TOKEN:-}" ]; then
    printf 'header = "Authorization: Bearer %s"\n' "$(config_escape "$SEAL_TOKEN")"
  fi
  if [ -n "${SEAL_FUNCTION_KEY:-}" ]; then
    printf 'header = "x-functions-key: %s"\n' "$(config_escape "$SEAL_FUNCTION_KEY")"
  fi
}

config_escape() {
  local text=${1//\\/\\\\}
  printf '%s' "${text//\"/\\\"}"
}

# The text as the inside of a JSON string; refuses control characters, which no blob name or
# seal setting needs.
json_string() {
  case $1 in
    *[[:cntrl:]]*) fail "a value holds a control character: ${1@Q}" ;;
  esac
  local text=${1//\\/\\\\}
  printf '%s' "${text//\"/\\\"}"
}

# The value of the header NAME in the header file FILE (as curl --dump-header writes it), or
# nothing.
header_value() {
  local name
  name=$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')
  tr -d '\r' <"$1" | awk -v name="$name" \
    'index(tolower($0), name ":") == 1 { sub(/^[^:]*:[ \t]*/, ""); value = $0 } END { print value }'
}

# Says that the service answered STATUS instead of success, with the problem it sent (a JSON
# problem document naming the cause), and exits.
refused() {
  echo "$(basename "$0"): the service answered $1:" >&2
  cat "$2" >&2
  echo >&2
  exit 1
}
