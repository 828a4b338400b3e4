#!/usr/bin/env bash
# Install what the tests need on a fresh machine, then run them all.
#   - a virtual environment in .venv with EmbedLens (editable) and its `test` extra
#   - Debian's chromium for the browser tests (apt-get, with sudo when not root)
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k share_link -x`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --disable-pip-version-check --upgrade pip
python -m pip install --quiet --disable-pip-version-check -e ".[test]"

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi

exec python -m pytest "$@"
