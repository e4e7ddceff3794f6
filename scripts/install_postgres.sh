#!/usr/bin/env bash
# Installs Debian's PostgreSQL server when it is missing (the PostgreSQL tests start their own
# server with initdb/pg_ctl in a temporary directory, as the `postgres` user when run as root).
set -euo pipefail
# The server binaries and the `postgres` user the package creates (the tests run as it).
if { [ -x "$(command -v pg_ctl 2>/dev/null)" ] || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } \
        && id postgres >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
# The tests start servers on free loopback ports; the packaged cluster and service are not needed.
($SUDO systemctl disable --now postgresql >/dev/null 2>&1 || $SUDO service postgresql stop >/dev/null 2>&1) || true
