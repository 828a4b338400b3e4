#!/usr/bin/env bash
# Install what the tests need on a fresh machine, then run them all.
#   - .venv (Python >= 3.11) with EmbedLens (editable) and its `test` extra, shared with
#     dashboard/serve.sh (dashboard/venv.sh), plus the `formats-test` extra (the libraries that
#     write TensorBoard / Hugging Face / LanceDB files for tests/core/test_log_formats.py, and
#     kaleido); Debian's chromium for the browser tests and kaleido
#   - every test with the versions a fresh install resolves today
#   - then the core, figure, app and doctest tests again in .venv-lowest, with every dependency at
#     the lower bound pyproject.toml declares, the scale extra's too (tests/lowest.txt)
# Extra arguments run pytest once in .venv with them instead, e.g. `bash tests/run.sh -k share_link -x`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
set -e
# shellcheck source=dashboard/venv.sh
. dashboard/venv.sh
ensure_venv .venv "[test]"
ensure_venv .venv "[formats-test,scale]"
# the main run must have the format writers and dask: their tests fail here instead of skipping
export TESTS_REQUIRE_OPTIONAL_LIBS=1

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi

if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi

echo "== every test, with today's versions"
.venv/bin/python -m pytest && current=0 || current=$?
echo "== core, figure, app and doctest tests with the lowest declared versions (tests/lowest.txt)"
ensure_venv .venv-lowest "[test,scale]" tests/lowest.txt
# no formats-test extra at the lowest versions (its libraries need a newer pyarrow): those tests skip
TESTS_REQUIRE_OPTIONAL_LIBS=0 .venv-lowest/bin/python -m pytest -m "not browser" tests/core tests/figures tests/app core README.md \
  && lowest=0 || lowest=$?
echo "== today's versions: exit $current; lowest declared versions: exit $lowest"
[ "$current" -eq 0 ] && [ "$lowest" -eq 0 ]
