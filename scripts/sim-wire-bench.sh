#!/usr/bin/env bash
# Prints wire statistics and wall time of a 1 MB esptool write and read at
# 921600 through esp-sim --baud-model, against the link's theoretical time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p esp-sim
exec .venv/bin/python scripts/sim-wire-bench.py "$@"
