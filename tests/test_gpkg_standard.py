"""The store is a standard GeoPackage: typed geometry columns, R-tree indexes, DATETIME validity, attribute tables.

Checked with GDAL (pyogrio, ``ogrinfo``, GDAL's ``validate_gpkg.py`` when Debian ships it) and with QGIS
headless (Debian ``python3-qgis`` in the system Python, a subprocess): it lists the layers with their
geometry types and its temporal filter on ``feature_history`` returns exactly the spans valid at a time,
worked out here from the ``spans`` table with plain sqlite3. Old (layout 1) stores upgrade on a writable open.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pyogrio
import pytest
import shapely

from frontline.store import gpkg_layout
from frontline.store.gpkg import GeoPackageStore

VALIDATOR = Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")
SYSTEM_PYTHON = "/usr/bin/python3"


@contextmanager
def _ro(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that only reads (a plain one: a read-only one cannot open a WAL file nobody has open)."""
    db = sqlite3.connect(path)
    try:
        yield db
    finally:
        db.close()


def _copy(src: Path, dst: Path) -> Path:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:  # the WAL too, unlike a file copy
        a.backup(b)
    return dst


@pytest.fixture
def standard_copy(demo_store, tmp_path) -> Path:
    """A copy of the demo store whose reference layers are standard too (the call reference.py is to make)."""
    path = _copy(demo_store.path, tmp_path / "std.gpkg")
    db = sqlite3.connect(path, isolation_level=None)
    gpkg_layout.install_functions(db)
    db.execute("BEGIN")
    gpkg_layout.make_feature_table(db, "settlements", "POINT", "Settlements")
    gpkg_layout.make_feature_table(db, "roads", "LINESTRING", "Roads")
    db.execute("COMMIT")
    db.close()
    return path


def test_geometry_columns_declared_with_their_type(demo_store):
    with _ro(demo_store.path) as db:
        declared = {
            t: {r[1]: r[2] for r in db.execute(f"PRAGMA table_xinfo({t})")}["geom"] for t in ("features", "regions")
        }
        registered = dict(db.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns"))
    assert declared == {"features": "GEOMETRY", "regions": "GEOMETRY"}
    assert registered["features"] == registered["regions"] == registered["feature_history"] == "GEOMETRY"
    info = pyogrio.read_info(demo_store.path, layer="feature_history")
    assert info["geometry_type"] == "Unknown"  # GDAL's name for GEOMETRY (any type): features mix them


def test_reference_layers_made_standard_keep_their_type(standard_copy):
    layers = dict(pyogrio.list_layers(standard_copy))
    assert layers["settlements"] == "Point" and layers["roads"] == "LineString"
    with _ro(standard_copy) as db:
        assert {r[1]: r[2] for r in db.execute("PRAGMA table_xinfo(settlements)")}["geom"] == "POINT"


def _rtree_matches(path: Path, table: str) -> int:
    """Assert the R-tree of ``table`` holds each geometry's bounds (from GDAL's WKB via shapely); its row count."""
    meta, fids, wkbs, _ = pyogrio.raw.read(path, layer=table, read_geometry=True, return_fids=True)
    expected = {
        int(fid): shapely.from_wkb(w).bounds
        for fid, w in zip(fids, wkbs)
        if w is not None and not shapely.from_wkb(w).is_empty
    }
    with _ro(path) as db:
        rows = {r[0]: r[1:] for r in db.execute(f"SELECT id, minx, miny, maxx, maxy FROM rtree_{table}_geom")}
    assert set(rows) == set(expected), table
    for fid, (minx, miny, maxx, maxy) in expected.items():
        got = rows[fid]  # float32 in the R-tree, rounded outwards
        assert got[0] <= minx + 1e-9 and got[1] <= miny + 1e-9 and got[2] >= maxx - 1e-9 and got[3] >= maxy - 1e-9
        assert max(minx - got[0], miny - got[1], got[2] - maxx, got[3] - maxy) < 1e-4
    return len(rows)


def test_rtree_indexes_consistent_after_import(demo_store):
    with _ro(demo_store.path) as db:
        ext = set(db.execute("SELECT table_name, column_name, extension_name, scope FROM gpkg_extensions"))
        triggers = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
        n_features = db.execute("SELECT COUNT(*) FROM features WHERE geom IS NOT NULL").fetchone()[0]
    assert {
        ("features", "geom", "gpkg_rtree_index", "write-only"),
        ("regions", "geom", "gpkg_rtree_index", "write-only"),
    } <= ext
    for t in ("features", "regions"):
        assert {
            f"rtree_{t}_geom_{k}" for k in ("insert", "update1", "update2", "update3", "update4", "delete")
        } <= triggers
    assert _rtree_matches(demo_store.path, "features") == n_features > 0
    assert _rtree_matches(demo_store.path, "regions") > 0


def test_rtree_follows_updates_and_deletes(demo_store, tmp_path):
    path = _copy(demo_store.path, tmp_path / "edit.gpkg")
    st = GeoPackageStore(path)
    fid = st.db.execute("SELECT MIN(fid) FROM features").fetchone()[0]
    moved = shapely.box(30.0, 50.0, 30.5, 50.25)
    from frontline.store.gpkg import encode_gpkg

    with st.transaction() as db:
        db.execute("UPDATE features SET geom=? WHERE fid=?", (encode_gpkg(moved), fid))
        db.execute("DELETE FROM regions WHERE fid=(SELECT MAX(fid) FROM regions)")
    st.close()
    with _ro(path) as db:
        box = db.execute("SELECT minx, maxx, miny, maxy FROM rtree_features_geom WHERE id=?", (fid,)).fetchone()
    assert box == pytest.approx((30.0, 30.5, 50.0, 50.25), abs=1e-5)
    _rtree_matches(path, "features")
    _rtree_matches(path, "regions")


def test_history_validity_is_datetime(demo_store):
    info = pyogrio.read_info(demo_store.path, layer="feature_history")
    types = dict(zip(info["fields"], info["dtypes"]))
    assert types["valid_from"].startswith("datetime64") and types["valid_to"].startswith("datetime64")
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", str(demo_store.path), "feature_history"], capture_output=True, text=True
    )
    assert "valid_from: DateTime" in out.stdout and "valid_to: DateTime" in out.stdout, out.stdout + out.stderr
    with _ro(demo_store.path) as db:
        open_ended = db.execute("SELECT COUNT(*) FROM spans WHERE valid_to IS NULL").fetchone()[0]
        null_to = db.execute("SELECT COUNT(*) FROM feature_history WHERE valid_to IS NULL").fetchone()[0]
        first = db.execute("SELECT MIN(valid_from) FROM spans").fetchone()[0]
        shown = db.execute("SELECT MIN(valid_from) FROM feature_history").fetchone()[0]
    assert null_to == open_ended > 0  # an open interval stays open (NULL), not a made-up date
    assert shown == datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_internal_tables_registered_as_attributes(demo_store):
    layers = dict(pyogrio.list_layers(demo_store.path))
    with _ro(demo_store.path) as db:
        kinds = dict(db.execute("SELECT table_name, data_type FROM gpkg_contents"))
    assert {t: kinds[t] for t in ("versions", "spans", "imports")} == dict.fromkeys(
        ("versions", "spans", "imports"), "attributes"
    )
    assert layers["versions"] is None and layers["spans"] is None
    # Tables without an INTEGER PRIMARY KEY may not be attributes tables (requirement 119): GDAL leaves them out.
    assert "pieces" not in layers and "meta" not in layers


def test_gdal_validator_accepts_the_store(standard_copy):
    if not VALIDATOR.exists():
        pytest.skip(f"GDAL's validate_gpkg.py is not installed at {VALIDATOR} (Debian package python3-gdal)")
    out = subprocess.run([sys.executable, str(VALIDATOR), str(standard_copy)], capture_output=True, text=True)
    assert out.returncode == 0 and "GPKGCheckException" not in out.stderr, out.stdout + out.stderr


def _downgrade(path: Path) -> None:
    """Turn a copy into the layout stores had before (BLOB geometry, no R-tree, text validity, no attributes)."""
    db = sqlite3.connect(path, isolation_level=None)
    gpkg_layout.install_functions(db)
    db.execute("BEGIN")
    for t in ("features", "regions"):
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=?", (t,)
        ).fetchall():
            db.execute(f'DROP TRIGGER "{name}"')
        db.execute(f"DROP TABLE rtree_{t}_geom")
        gpkg_layout.set_declared_type(db, t, "geom", "BLOB")
    db.execute("DELETE FROM gpkg_extensions")
    db.execute("DELETE FROM gpkg_contents WHERE data_type='attributes'")
    db.execute("DROP VIEW feature_history")
    db.execute("ALTER TABLE spans DROP COLUMN valid_from_dt")
    db.execute("ALTER TABLE spans DROP COLUMN valid_to_dt")
    db.execute(
        "CREATE VIEW feature_history AS SELECT s.span_id AS fid, f.fid AS feature_fid, f.source, f.kind, f.key, "
        "f.role, f.side, f.name, f.name_en, f.at_label, f.bearing, f.counted, "
        "strftime('%Y-%m-%dT%H:%M:%SZ', s.valid_from, 'unixepoch') AS valid_from, "
        "strftime('%Y-%m-%dT%H:%M:%SZ', s.valid_to, 'unixepoch') AS valid_to, f.geom "
        "FROM spans s JOIN features f ON f.fid = s.feature_fid"
    )
    db.execute("DELETE FROM meta WHERE key='gpkg_layout'")
    db.execute("COMMIT")
    db.close()


def test_old_store_upgrades_on_writable_open(demo_store, tmp_path):
    path = _copy(demo_store.path, tmp_path / "old.gpkg")
    _downgrade(path)
    with _ro(path) as db:
        before = db.execute("SELECT fid, valid_from, valid_to FROM feature_history ORDER BY fid").fetchall()
    assert pyogrio.read_info(path, layer="feature_history")["dtypes"][-1] == "object"  # text, as it was

    ro = GeoPackageStore(path, readonly=True)  # reading an old store works and changes nothing
    assert ro.versions() and ro.get_meta("gpkg_layout") is None
    ro.close()

    GeoPackageStore(path).close()
    with _ro(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='gpkg_layout'").fetchone() == ("2",)
        after = db.execute("SELECT fid, valid_from, valid_to FROM feature_history ORDER BY fid").fetchall()
    instants = lambda rows: [(r[0], *(None if v is None else datetime.fromisoformat(v) for v in r[1:])) for r in rows]
    assert instants(after) == instants(before)  # the same instants, now in GeoPackage's DATETIME form
    assert after[0][1].endswith(".000Z")
    info = pyogrio.read_info(path, layer="feature_history")
    assert dict(zip(info["fields"], info["dtypes"]))["valid_to"].startswith("datetime64")
    _rtree_matches(path, "features")
    _rtree_matches(path, "regions")


# List the store's layers (name, geometry type) and filter feature_history with the layer's temporal
# properties (start and end from fields) at each given time; print JSON.
QGIS_SCRIPT = r"""
import json, sys
from qgis.PyQt.QtCore import QDateTime, Qt
from qgis.core import (Qgis, QgsApplication, QgsDateTimeRange, QgsFeatureRequest, QgsProviderRegistry,
                       QgsVectorLayer, QgsVectorLayerTemporalContext, QgsVectorLayerTemporalProperties, QgsWkbTypes)

QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
path, times = sys.argv[1], json.loads(sys.argv[2])
subs = QgsProviderRegistry.instance().providerMetadata("ogr").querySublayers(path)
layers = {s.name(): QgsWkbTypes.displayString(s.wkbType()) for s in subs}
layer = QgsVectorLayer(f"{path}|layername=feature_history", "history", "ogr")
if not layer.isValid():
    sys.exit("feature_history is not a valid layer: " + layer.error().summary())
fields = {f.name(): f.typeName() for f in layer.fields()}
props = layer.temporalProperties()
props.setIsActive(True)
props.setMode(Qgis.VectorTemporalMode.FeatureDateTimeStartAndEndFromFields)
props.setStartField("valid_from")
props.setEndField("valid_to")
ctx = QgsVectorLayerTemporalContext()
ctx.setLayer(layer)
found = {}
for t in times:
    at = QDateTime.fromSecsSinceEpoch(t, Qt.UTC)
    expr = props.createFilterString(ctx, QgsDateTimeRange(at, at))
    found[str(t)] = sorted(f.id() for f in layer.getFeatures(QgsFeatureRequest().setFilterExpression(expr)))
print(json.dumps({"layers": layers, "fields": fields, "found": found, "expr": expr}))
"""


def _has_qgis() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=120).returncode == 0


def test_qgis_lists_layers_and_filters_history_by_time(standard_copy):
    if not _has_qgis():
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON} (Debian python3-qgis)")
    with _ro(standard_copy) as db:
        times = [r[0] for r in db.execute("SELECT valid_time FROM versions ORDER BY valid_time")]
        # Dates (midnight UTC): the first day after the first version, one mid-way, the day after the last.
        # Not a version's own instant: QGIS compares the stored text with a literal lacking the "Z" (see docs).
        day = 86400
        probes = [(t // day + 1) * day for t in (times[0], times[len(times) // 2], times[-1])]
        assert not set(probes) & set(times)
        expected = {
            str(t): sorted(
                r[0]
                for r in db.execute(
                    "SELECT span_id FROM spans WHERE valid_from<=? AND (valid_to IS NULL OR valid_to>?)", (t, t)
                )
            )
            for t in probes
        }
    out = subprocess.run(
        [SYSTEM_PYTHON, "-c", QGIS_SCRIPT, str(standard_copy), json.dumps(probes)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(standard_copy.parent)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["layers"]["settlements"] == "Point" and got["layers"]["roads"] == "LineString"
    assert got["layers"]["features"] == got["layers"]["feature_history"] == "Unknown"
    assert got["layers"]["versions"] == "NoGeometry"
    assert got["fields"]["valid_from"] == got["fields"]["valid_to"] == "DateTime"
    assert all(expected[t] for t in expected)
    assert got["found"] == expected, got["expr"]
