#!/usr/bin/env bash
# Set everything up and run the test suite. Tests that need the DeepState
# archive read it from ../shared/data (or $FRONTLINE_DATA) and skip when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
