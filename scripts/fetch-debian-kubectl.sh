#!/usr/bin/env bash
# Debian's kubectl (package kubernetes-client, v1.20: it asks for /openapi/v2, which newer
# kubectl no longer needs), for the lab API's tests beside the kubectl on PATH. Downloaded from
# Debian's archive and unpacked under .cache/, never installed; idempotent. Prints the binary's
# path on stdout and nothing else:
#
#   export PODWALL_TEST_OLD_KUBECTL="$(bash scripts/fetch-debian-kubectl.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
where="$PWD/.cache/debian-kubectl"
binary="$where/root/usr/bin/kubectl"
if [ ! -x "$binary" ]; then
  mkdir -p "$where"
  (
    cd "$where"
    rm -f kubernetes-client_*.deb
    apt-get download kubernetes-client >/dev/null 2>&1 || {
      apt-get update -qq >&2
      apt-get download kubernetes-client >/dev/null
    }
    dpkg-deb -x kubernetes-client_*.deb root
  )
fi
"$binary" version --client >/dev/null  # it runs on this machine
echo "$binary"
