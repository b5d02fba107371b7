#!/usr/bin/env bash
# Set everything up, build the demo store from a generated scenario, show its
# area history and serve the web map on http://127.0.0.1:8765/ (Ctrl-C stops).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/frontline demo --serve "$@"
