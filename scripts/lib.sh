# shellcheck shell=bash
# Helpers shared by the scripts beside this file. Sourced, never run on its own.
# The caller sets `script` to its own name, for messages.

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "${script:-pdf-seal}: needs root for '$*': run it as root or install sudo" >&2
    return 1
  fi
}

# True when apt knows an installable version of every package named.
apt_knows() {
  local pkg candidate
  for pkg in "$@"; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
    [ -n "$candidate" ] && [ "$candidate" != "(none)" ] || return 1
  done
}

# Installs those of the named Debian packages that are not installed yet. Runs `apt-get update`
# only when apt does not know a package, or when an install from the current lists fails (a
# package moved on since they were read). Prints one line when it installed something, the apt
# log when it failed, and nothing when there was nothing to do.
ensure_debian_packages() {
  local missing=() pkg log
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -qx 'install ok installed' \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  log=$(mktemp)
  local update=(apt-get update -q -o DPkg::Lock::Timeout=300)
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends
                 -o DPkg::Lock::Timeout=300 "${missing[@]}")
  local updated=no
  if ! apt_knows "${missing[@]}"; then
    as_root "${update[@]}" >>"$log" 2>&1 || true
    updated=yes
  fi
  if ! as_root "${install[@]}" >>"$log" 2>&1; then
    [ "$updated" = yes ] || as_root "${update[@]}" >>"$log" 2>&1 || true
    if [ "$updated" = yes ] || ! as_root "${install[@]}" >>"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "${script:-pdf-seal}: could not install the Debian packages ${missing[*]} (apt's last lines above)" >&2
      rm -f "$log"
      return 1
    fi
  fi
  rm -f "$log"
  echo "${script:-pdf-seal}: installed ${missing[*]}"
}
