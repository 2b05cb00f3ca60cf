#!/usr/bin/env bash
# The online service under load (bench/serve_load.py): a server of 1 worker, then one of 2;
# the output also in bench/results/serve_load/last.txt. About 25 minutes on 2 cores.
#   bash bench/serve_load.sh [serve_load.py options, e.g. --duration 20]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results/serve_load
.venv/bin/python bench/serve_load.py --workers 1,2 "$@" 2>&1 | tee bench/results/serve_load/last.txt
