#!/usr/bin/env bash
# The real-scheduler test lane (tests/real_scheduler) runs Airflow on a private PostgreSQL cluster it
# starts itself (initdb in a temporary folder, loopback only). Install Debian's `postgresql` package
# when its server programs (initdb, postgres, pg_ctl) are missing. As root, the lane runs the server as
# the `postgres` user that package creates (PostgreSQL refuses to run as root).
set -euo pipefail
found() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && return 0
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}
needs_user() { [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; }
if found && ! needs_user; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the real-scheduler tests need PostgreSQL's server programs (initdb, pg_ctl, postgres)" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
found || { echo "error: postgresql was installed but initdb/pg_ctl are not found" >&2; exit 1; }
ls -d /usr/lib/postgresql/*/bin
