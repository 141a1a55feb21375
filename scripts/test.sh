#!/usr/bin/env bash
# Install podwall with its test tools, then run the linter and the whole test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k conformance`).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the data-plane tests use (real nft in real network namespaces).
need=()
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
# The lab API's tests drive it with a real kubectl: the one on PATH, else Debian's.
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the test suite needs ${need[*]} (Debian packages) and root: run it as root" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
bash scripts/install-chromium.sh  # Debian's chromium for the console's browser tests
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
ruff check .
# The console's browser UI (plain ES modules) is linted by ESLint, pinned in package-lock.json.
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the UI's linter needs npm (Debian packages nodejs, npm): run the tests as root" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
npm run --silent lint
# The console's tests run on PostgreSQL too: a local server from Debian's packages, unless
# PODWALL_TEST_POSTGRESQL already names one, or is "off" (the console's tests on SQLite only).
if [ -z "${PODWALL_TEST_POSTGRESQL:-}" ]; then
  PODWALL_TEST_POSTGRESQL="$(bash scripts/install-postgresql.sh)"
  case "$PODWALL_TEST_POSTGRESQL" in
    postgresql://*) ;;
    *) echo "install-postgresql.sh printed no URL: [$PODWALL_TEST_POSTGRESQL]" >&2; exit 1 ;;
  esac
fi
export PODWALL_TEST_POSTGRESQL
# The lab API is also tested with Debian's kubectl 1.20 (it reads /openapi/v2), unpacked, not
# installed, unless PODWALL_TEST_OLD_KUBECTL already names one.
if [ -z "${PODWALL_TEST_OLD_KUBECTL:-}" ]; then
  PODWALL_TEST_OLD_KUBECTL="$(bash scripts/fetch-debian-kubectl.sh)"
fi
export PODWALL_TEST_OLD_KUBECTL
set +e
python3 -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
