"""QGIS (headless, its OAPIF provider) reads the control map of 2025-03-06 from ``frontline serve`` and measures
it: the areas agree with ``frontline area`` within 0.1 %.

QGIS runs in the system Python (``/usr/bin/python3``, Debian's ``python3-qgis`` and ``qgis-providers``) in a
subprocess, on the real-archive Kursk store when the archive is there, else on the generated demo store.
The datetime filter travels as a query string in the layer's ``url``: QGIS appends it to every request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_ogc import serving

SYSTEM_PYTHON = "/usr/bin/python3"
INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-qgis qgis-providers"

# Read one OAPIF layer and print its features' attributes and geodesic areas (km², WGS84 ellipsoid) as JSON.
QGIS_SCRIPT = r"""
import json, sys
from qgis.core import QgsApplication, QgsDistanceArea, QgsProject, QgsUnitTypes, QgsVectorLayer

QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
url, typename = sys.argv[1], sys.argv[2]
layer = QgsVectorLayer(f"url={url} typename={typename}", "control", "OAPIF")
if not layer.isValid():
    sys.exit("the OAPIF layer is not valid: " + layer.error().summary())
da = QgsDistanceArea()
da.setSourceCrs(layer.crs(), QgsProject.instance().transformContext())
da.setEllipsoid("WGS84")
rows = []
for f in layer.getFeatures():
    row = {k: (v if isinstance(v, (int, float, str)) else None) for k, v in zip(layer.fields().names(), f.attributes())}
    g = f.geometry()
    row["km2"] = None if g.isNull() else da.convertAreaMeasurement(da.measureArea(g), QgsUnitTypes.AreaSquareKilometers)
    rows.append(row)
print(json.dumps(rows))
"""


def _has_qgis() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=120)
    return r.returncode == 0


pytestmark = pytest.mark.skipif(not _has_qgis(), reason=f"QGIS is not installed for {SYSTEM_PYTHON} ({INSTALL})")


@pytest.fixture(scope="module")
def store_and_day(request):
    """``(store path, day)``: the Kursk store and 2025-03-06, or the demo store and its last version's day."""
    from frontline.model import iso

    try:
        request.getfixturevalue("archive")
    except pytest.skip.Exception:  # no archive here: the generated store
        demo = request.getfixturevalue("demo_store")
        return demo.path, iso(max(v.valid_time for v in demo.versions()))[:10]
    return request.getfixturevalue("kursk")[0].path, "2025-03-06"


def _frontline_area(store, day: str, region: str) -> dict:
    exe = Path(sys.executable).with_name("frontline")
    out = subprocess.run(
        [str(exe), "area", "--store", str(store), "--at", day, "--region", region, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(out.stdout)[0]


def test_qgis_measures_the_control_map_as_frontline_area(store_and_day, tmp_path):
    store, day = store_and_day
    script = tmp_path / "qgis_read.py"
    script.write_text(QGIS_SCRIPT)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    with serving(store) as base:
        r = subprocess.run(
            [SYSTEM_PYTHON, str(script), f"{base}/ogc?datetime={day}", "control"],
            capture_output=True,
            text=True,
            timeout=600,
            env={**env, "XDG_RUNTIME_DIR": str(tmp_path)},
        )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {
        (row["status"], row["side"] if row["side"] not in (None, "NULL") else None): row for row in json.loads(r.stdout)
    }
    assert set(rows) == {("held", "ua"), ("held", "ru"), ("contested", None)}, rows.keys()
    versions = {row["version"] for row in rows.values()}
    want = {
        ("held", "ua"): ("outside:ua", "ua_km2"),
        ("held", "ru"): ("outside:ru", "ru_km2"),
        ("contested", None): ("theatre", "contested_km2"),
    }
    for key, (region, column) in want.items():
        ref = _frontline_area(store, day, region)
        assert versions == {ref["version_id"]}
        got = rows[key]["km2"] or 0.0
        assert got == pytest.approx(ref[column], rel=1e-3, abs=1e-3), (key, region, got, ref[column])
