#!/usr/bin/env bash
# Install Debian's chromium (and fonts for readable screenshots) for the console's browser
# tests, unless it is there already. Idempotent; needs root only when something is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "the browser tests need Debian's chromium (/usr/bin/chromium): run this as root" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core fonts-liberation >/dev/null
test -x /usr/bin/chromium
