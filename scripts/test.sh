#!/usr/bin/env bash
# Install podwall with its test tools, then run the linter and the whole test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k conformance`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
ruff check .
set +e
python3 -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
