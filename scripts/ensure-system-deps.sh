#!/usr/bin/env bash
# Installs the Debian packages the suites need when missing (as root), or names them and stops.
set -euo pipefail
needed=()
for pkg in "$@"; do
  command -v "$pkg" >/dev/null 2>&1 || needed+=("$pkg")
done
[ "${#needed[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" >/dev/null
else
  echo "missing system packages: ${needed[*]} (install them with apt-get, then rerun)" >&2
  exit 1
fi
