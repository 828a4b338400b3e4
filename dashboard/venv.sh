# Sourced by dashboard/serve.sh and tests/run.sh: make and fill the checkout's .venv.
# ensure_venv EXTRAS   e.g. "" for the app alone, "[test]" for the tests.
ensure_venv() {
  local extras="$1" python="${PYTHON:-python3}" stamp
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "EmbedLens needs Python 3.11 or newer; $python is $("$python" --version 2>&1 || echo missing)." >&2
    echo "Set PYTHON=/path/to/python3.11 (or newer) and run this again." >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv 2>/dev/null; then
      rm -rf .venv
      # Debian / Ubuntu ship venv's ensurepip in a separate package
      local sudo=""
      if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
      echo "$python -m venv failed; installing Debian's python3-venv ..." >&2
      $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q python3-venv
      "$python" -m venv .venv
    fi
  fi
  stamp=".venv/.embedlens-installed$extras"
  # the test install holds everything the app needs too
  if [ -z "$extras" ] && cmp -s pyproject.toml ".venv/.embedlens-installed[test]" 2>/dev/null; then
    return 0
  fi
  if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras"
    cp pyproject.toml "$stamp"
  fi
}
