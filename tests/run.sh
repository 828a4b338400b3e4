#!/usr/bin/env bash
# Install what the tests need on a fresh machine, then run them all.
#   - a virtual environment in .venv (Python >= 3.11) with EmbedLens (editable) and its `test`
#     extra, shared with dashboard/serve.sh (dashboard/venv.sh)
#   - Debian's chromium for the browser tests (apt-get, with sudo when not root)
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k share_link -x`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=dashboard/venv.sh
. dashboard/venv.sh
ensure_venv "[test]"

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi

exec .venv/bin/python -m pytest "$@"
