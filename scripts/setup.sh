#!/usr/bin/env bash
# Set up whatever is missing, and nothing else: uv, Java for Spark, the five environments from
# their lock files. Idempotent; a second run with nothing to do takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.8"
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON="${UV_PYTHON:-3.11}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
  || die "Python 3.11 is needed (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11"

# uv: on PATH, or installed with pip into the user's Python.
if ! command -v uv >/dev/null 2>&1; then
  say "installing uv $UV_VERSION with pip"
  "$PYTHON" -m pip install --quiet "uv==$UV_VERSION" || die "could not install uv with pip"
  hash -r
  command -v uv >/dev/null 2>&1 || export PATH="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin:$PATH"
  command -v uv >/dev/null 2>&1 || die "uv was installed but is not on PATH"
fi

# Java 17 or 21 for Spark.
java_major() {
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\(\.[0-9]*\)\{0,1\}.*/\1/p' | head -n1)
  echo "${v:-0}"
}
if ! command -v java >/dev/null 2>&1 || [[ ! "$(java_major)" =~ ^(17|21)$ ]]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    say "installing openjdk-17-jre-headless with apt (Spark needs Java 17 or 21)"
    apt-get update -qq >/dev/null && \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
      || die "apt could not install openjdk-17-jre-headless"
  else
    die "Spark needs Java 17 or 21 and none was found; install openjdk-17-jre-headless (or set JAVA_HOME)"
  fi
fi

# The production profile keeps every orchestrator's metadata on a native PostgreSQL.
bash scripts/apt-ensure.sh pg_ctlcluster postgresql || die "the production profile needs PostgreSQL"

# The five environments, exactly as locked.
for project in . airflow_impl prefect_impl dagster_impl luigi_impl; do
  [ -f "$project/uv.lock" ] || die "$project/uv.lock is missing"
  (cd "$project" && uv sync --frozen --quiet) || die "could not create the environment of $project"
done
say "setup complete: Java $(java_major), uv $(uv --version | cut -d' ' -f2), PostgreSQL $(ls /usr/lib/postgresql | sort -n | tail -n1), 5 environments"
