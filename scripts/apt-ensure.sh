#!/usr/bin/env bash
# apt-ensure.sh COMMAND PACKAGE: install PACKAGE with apt when COMMAND is not on PATH.
# Used by make targets that need a Debian tool (chromium, docker-compose, postgresql).
set -euo pipefail
cmd="$1"; pkg="$2"
command -v "$cmd" >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  printf '\033[1m==>\033[0m installing %s with apt (for %s)\n' "$pkg" "$cmd"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null \
      || { echo "apt could not install $pkg" >&2; exit 1; }
  fi
else
  echo "$cmd is missing: install the Debian package $pkg (apt-get install $pkg)" >&2
  exit 1
fi
