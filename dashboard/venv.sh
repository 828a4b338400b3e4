# Sourced by dashboard/serve.sh and tests/run.sh: make and fill a virtual environment in the checkout.
# ensure_venv DIR EXTRAS [CONSTRAINTS]
#   DIR          .venv (or .venv-lowest for the lowest-versions test run)
#   EXTRAS       "" for the app alone, "[test]" for the tests
#   CONSTRAINTS  a pip constraints file (tests/lowest.txt pins every dependency to its declared lower bound)
ensure_venv() {
  local dir="$1" extras="$2" constraints="${3:-}" python="${PYTHON:-python3}" stamp sudo=""
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "EmbedLens needs Python 3.11 or newer; $python is $("$python" --version 2>&1 || echo missing)." >&2
    echo "Set PYTHON=/path/to/python3.11 (or newer) and run this again." >&2
    exit 1
  fi
  if [ ! -x "$dir/bin/python" ]; then
    if ! "$python" -m venv "$dir" 2>/dev/null; then
      rm -rf "$dir"
      # Debian / Ubuntu ship venv's ensurepip in a separate package
      if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
      echo "$python -m venv failed; installing Debian's python3-venv ..." >&2
      $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q python3-venv
      "$python" -m venv "$dir"
    fi
  fi
  stamp="$dir/.embedlens-installed$extras"
  # the test install holds everything the app needs too
  if [ -z "$extras" ] && cmp -s pyproject.toml "$dir/.embedlens-installed[test]" 2>/dev/null; then
    return 0
  fi
  if [ ! -f "$stamp" ] || ! cat pyproject.toml ${constraints:+"$constraints"} | cmp -s - "$stamp"; then
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --prefer-binary \
      ${constraints:+-c "$constraints"} -e ".$extras"
    cat pyproject.toml ${constraints:+"$constraints"} > "$stamp"
  fi
}
