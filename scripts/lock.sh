#!/usr/bin/env bash
# Regenerate constraints.txt (the versions CI installs) from a fresh virtual environment with every extra.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --disable-pip-version-check -e ".[test,notebook,cluster,postgis]" 2>&1 | grep -v "^WARNING: Location" || true
{ echo "# Versions CI installs (pip install -c constraints.txt): regenerate with scripts/lock.sh after changing dependencies."
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v "^-e\|^frontline\|^#"; } > constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
