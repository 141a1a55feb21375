#!/usr/bin/env bash
# A local PostgreSQL for the console's tests, on a Debian machine, as root. Idempotent, and quick
# when already done: installs Debian's `postgresql` if missing, starts its cluster listening on
# 127.0.0.1 only, creates the role and database `podwall_test` (the role may create databases:
# each test makes its own and drops it), and prints the URL the tests read from
# PODWALL_TEST_POSTGRESQL, on stdout and nothing else:
#
#   export PODWALL_TEST_POSTGRESQL="$(bash scripts/install-postgresql.sh)"
#
# (PODWALL_TEST_POSTGRESQL=off deselects the PostgreSQL half of the console's tests instead.)
# The password is fixed and public: the server answers on loopback only, for tests only.
set -euo pipefail

ROLE=podwall_test
PASSWORD=podwall_test

say() { echo "install-postgresql: $*" >&2; }

# Everything but the URL goes to stderr: the tools print on stdout too (pg_ctlcluster says
# "Removed stale pid file." after an unclean stop), and stdout is what the caller captures.
# A function redirected as a whole, not a saved file descriptor: the server pg_ctlcluster starts
# would inherit that descriptor and hold the caller's $(...) open for ever.
prepare() {
  if [ "$(id -u)" -ne 0 ]; then
    say "run me as root (I install and start Debian's postgresql)"
    exit 1
  fi

  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    say "installing postgresql (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi

  cluster="$(pg_lsclusters --no-header | head -n 1)"
  if [ -z "$cluster" ]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    say "creating cluster $version/main"
    pg_createcluster "$version" main >/dev/null
    cluster="$(pg_lsclusters --no-header | head -n 1)"
  fi
  read -r version name port status _ <<<"$cluster"

  # A drop-in (Debian's postgresql.conf includes conf.d/) rather than an edit of postgresql.conf.
  dropin="/etc/postgresql/$version/$name/conf.d/podwall-test.conf"
  wanted="listen_addresses = '127.0.0.1'  # podwall's tests: loopback only"
  restart=no
  if [ "$(cat "$dropin" 2>/dev/null)" != "$wanted" ]; then
    say "cluster $version/$name: listen on 127.0.0.1 only ($dropin)"
    mkdir -p "$(dirname "$dropin")"
    echo "$wanted" >"$dropin"
    restart=yes
  fi
  if [ "$status" != online ]; then
    say "starting cluster $version/$name on 127.0.0.1:$port"
    pg_ctlcluster "$version" "$name" start
  elif [ "$restart" = yes ]; then
    pg_ctlcluster "$version" "$name" restart
  fi

  for _ in $(seq 100); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.1
  done
  pg_isready -q -h 127.0.0.1 -p "$port" || { say "PostgreSQL does not answer on 127.0.0.1:$port"; exit 1; }

  # From /: user postgres may not enter the caller's directory (psql would say so on stderr).
  psql_admin() {
    (cd / && runuser -u postgres -- psql -X -q -p "$port" -v ON_ERROR_STOP=1 -tAc "$1")
  }
  if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    say "creating role $ROLE"
    psql_admin "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'"
  fi
  if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$ROLE'")" != 1 ]; then
    say "creating database $ROLE"
    psql_admin "CREATE DATABASE $ROLE OWNER $ROLE"
  fi
}

port=
prepare >&2
echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$ROLE"
