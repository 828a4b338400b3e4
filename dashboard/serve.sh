#!/usr/bin/env bash
# Serve EmbedLens from this checkout on a stock machine, in one command:
#   bash dashboard/serve.sh [DATA_DIR] [--port 8501] [--address 127.0.0.1] [--max-file-mb MB]
# Makes .venv with Python >= 3.11 (system Pythons refuse `pip install` into themselves, PEP 668),
# installs EmbedLens with its scale extra (Dask) into it when pyproject.toml changed since the last install, and runs
# `embedlens` with the arguments given (default: the bundled sample data on http://localhost:8501).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=dashboard/venv.sh
. dashboard/venv.sh
ensure_venv .venv "[scale]"  # with Dask: out-of-core datasets and a cluster work as served
exec .venv/bin/embedlens "$@"
