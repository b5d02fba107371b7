"""Areas inside polygon files on the real archive, against an independent computation.

Three region files a user might draw, in three formats: a lon/lat GeoJSON box around Avdiivka–Pokrovsk, a
GeoPackage in UTM 36N (EPSG:32636) around the Kursk salient, and a KML rectangle rotated 25° over the
southern front (Kherson, the Dnipro, Melitopol, northern Crimea, Sivash and sea) with a hole around Melitopol.
Each is measured at three dates in 2024–2025 by Frontline and compared with a reference computed here from the
raw DeepState files with json + shapely + pyproj only (nothing from Frontline), following the documented
definitions (``frontline/analysis/area.py``):

* ``as_drawn``: per class, the union of the raw polygons of that class, cut to the region (sea included),
  geodesic area (``pyproj.Geod(ellps='WGS84').geometry_area_perimeter``). Classes by DeepState's
  ``geoJSON.<key>``: ``ru`` = status.occupied, territories.ordlo/crimea/tuzla; grey = status.unknown;
  ``ua`` = status.dismissed* polygons held *abroad*: those with most of their area outside Ukraine (inside
  Ukraine they are DeepState's history labels for liberated ground, and they do lie in the Kursk box).
* ``clipped``: the partition of the land. In Ukraine (npm border file, A3 ``UKR``): grey is contested,
  ``ru`` = ru-class minus grey, ``ua`` = the rest of Ukraine's land; in Russia (A3 ``RUS``, its part in the
  Kursk box): grey is contested, ``ua`` = ua-abroad minus grey, ``ru`` = the rest. Sea counts nothing.

Both must agree within 0.5% (0.05 km² for values near zero). The polygons are densified (0.01°) before
they are written, so that the file's edges mean the same thing in every CRS.
"""

from __future__ import annotations

import bisect
import json
import re
from datetime import UTC, datetime

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import mapping, shape
from shapely.geometry.polygon import orient

from .conftest import run_cli

GEOD = Geod(ellps="WGS84")
RU_KEYS = {"status.occupied", "territories.ordlo", "territories.crimea", "territories.tuzla"}
KEY = re.compile(r"geoJSON\.([A-Za-z0-9_.\-]+)")
DATES = ("2024-09-15", "2024-12-15", "2025-02-15")
REL, ABS = 0.005, 0.05


def _rotated(cx: float, cy: float, hx: float, hy: float, deg: float) -> shapely.Polygon:
    a = np.radians(deg)
    pts = [
        (cx + x * np.cos(a) - y * np.sin(a), cy + x * np.sin(a) + y * np.cos(a))
        for x, y in ((-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy))
    ]
    return shapely.Polygon(pts)


POKROVSK = shapely.segmentize(shapely.box(37.0, 47.9, 38.0, 48.5), 0.01)
KURSK = shapely.segmentize(shapely.box(34.6, 50.95, 36.0, 51.75), 0.01)
SOUTH = shapely.segmentize(
    shapely.Polygon(
        _rotated(34.3, 46.6, 1.4, 0.55, 25).exterior.coords,
        [shapely.box(35.2, 46.75, 35.5, 46.95).exterior.coords[::-1]],
    ),
    0.01,
)


def km2(g) -> float:
    """Geodesic km² of a (multi)polygon, every ring oriented for pyproj."""
    total = 0.0
    for p in shapely.get_parts(g):
        if p.geom_type == "Polygon" and not p.is_empty:
            total += GEOD.geometry_area_perimeter(orient(p, 1.0))[0]
    return total / 1e6


def polys(g):
    """Only the polygon parts of a geometry."""
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def local_land(border: dict, region) -> shapely.Geometry:
    """A country's land near the region, repaired (the npm file's rings are not all valid)."""
    x0, y0, x1, y1 = region.bounds
    return polys(shapely.make_valid(shapely.clip_by_rect(shape(border), x0 - 0.5, y0 - 0.5, x1 + 0.5, y1 + 0.5)))


def classes(fc: dict, region, ukr_near) -> dict[str, shapely.Geometry]:
    """ru / grey / ua-abroad unions of one raw version's polygons reaching the region's envelope."""
    env = shapely.box(*region.bounds)
    out = {"ru": [], "grey": [], "ua": []}
    for f in fc["features"]:
        g = f.get("geometry") or {}
        if "Polygon" not in g.get("type", "") and g.get("type") != "GeometryCollection":
            continue
        m = KEY.search((f.get("properties") or {}).get("name") or "")
        key = m.group(1) if m else ""
        cls = (
            "ru"
            if key in RU_KEYS
            else "grey"
            if key == "status.unknown"
            else ("ua" if key.startswith("status.dismissed") else None)
        )
        if cls is None:
            continue
        geom = shapely.force_2d(shape(g))
        geom = polys(geom if geom.is_valid else shapely.make_valid(geom))
        if geom.is_empty or not geom.intersects(env):
            continue
        if cls == "ua":  # held abroad only when most of it lies outside Ukraine
            x0, y0, x1, y1 = geom.bounds
            ukr = polys(shapely.make_valid(shapely.clip_by_rect(ukr_near["full"], x0, y0, x1, y1)))
            inside = km2(geom.intersection(ukr))
            if inside >= km2(geom) - inside:
                continue
        out[cls].append(geom)
    return {k: shapely.union_all(v) if v else shapely.Polygon() for k, v in out.items()}


def reference(fc: dict, region, land: dict) -> dict[str, dict[str, float]]:
    """``{convention: {ua, ru, contested}}`` km² in the region, computed from the raw file only."""
    c = classes(fc, region, land)
    drawn = {"ru": km2(c["ru"] & region), "contested": km2(c["grey"] & region), "ua": km2(c["ua"] & region)}
    ukr, rus = land["UKR"] & region, land["RUS"] & region
    grey_u, grey_r = c["grey"] & ukr, c["grey"] & rus
    ru_in_u = km2((c["ru"] - c["grey"]) & ukr)
    ua_in_r = km2((c["ua"] - c["grey"]) & rus)
    clipped = {
        "contested": km2(grey_u) + km2(grey_r),
        "ru": ru_in_u + km2(rus) - ua_in_r - km2(grey_r),
        "ua": km2(ukr) - ru_in_u - km2(grey_u) + ua_in_r,
    }
    return {"as_drawn": drawn, "clipped": clipped}


def _kml(poly: shapely.Polygon, name: str) -> str:
    def ring(r):
        return " ".join(f"{x:.7f},{y:.7f}" for x, y in r.coords)

    holes = "".join(
        f"<innerBoundaryIs><LinearRing><coordinates>{ring(h)}</coordinates></LinearRing></innerBoundaryIs>"
        for h in poly.interiors
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"<Placemark><name>{name}</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        f"{ring(poly.exterior)}</coordinates></LinearRing></outerBoundaryIs>{holes}</Polygon></Placemark>"
        "</Document></kml>"
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """``name → (path, lon/lat polygon, label Frontline should give it)``, written as a user would."""
    import pyogrio.raw

    d = tmp_path_factory.mktemp("regions")
    out = {}
    p = d / "pokrovsk.geojson"
    p.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"name": "Avdiivka-Pokrovsk"}, "geometry": mapping(POKROVSK)}
                ],
            }
        )
    )
    out["pokrovsk"] = (p, POKROVSK, "pokrovsk.geojson:Avdiivka-Pokrovsk")
    utm = Transformer.from_crs("EPSG:4326", "EPSG:32636", always_xy=True)
    kursk_m = shapely.transform(KURSK, lambda c: np.column_stack(utm.transform(c[:, 0], c[:, 1])))
    p = d / "kursk_utm.gpkg"
    pyogrio.raw.write(
        str(p),
        np.array([shapely.to_wkb(kursk_m)], dtype=object),
        [np.array(["Kursk salient"], dtype=object)],
        ["name"],
        layer="salient",
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:32636",
    )
    out["kursk"] = (p, KURSK, "kursk_utm.gpkg:Kursk salient")
    p = d / "south.kml"
    p.write_text(_kml(SOUTH, "South"))
    out["south"] = (p, SOUTH, "south.kml:South")
    return out


@pytest.fixture(scope="module")
def land(borders) -> dict:
    """Ukraine and Russia's land near the three regions (Russia's Crimea is Ukraine's in the theatre)."""
    allr = shapely.union_all([POKROVSK, KURSK, SOUTH])
    ukr = local_land(borders["UKR"], allr)
    rus = local_land(borders["RUS"], KURSK) - ukr  # Russia only reaches the Kursk box
    return {"UKR": ukr, "RUS": rus, "full": shape(borders["UKR"])}


def version_of(raw_ids: list[int], date: str) -> int:
    """The last version on or before the end of ``date`` (what ``--at DATE`` answers with)."""
    end = int(datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp()) + 86399
    return raw_ids[bisect.bisect_right(raw_ids, end) - 1]


def close(got: float | None, want: float) -> bool:
    return got is not None and abs(got - want) <= max(REL * abs(want), ABS)


@pytest.fixture(scope="module")
def refs(files, land, raw, raw_ids) -> dict:
    """``(region, date) → (version id, reference)``."""
    out = {}
    for date in DATES:
        vid = version_of(raw_ids, date)
        fc = raw(vid)
        for name, (_, poly, _) in files.items():
            out[(name, date)] = (vid, reference(fc, poly, land))
    return out


@pytest.mark.parametrize("name", ["pokrovsk", "kursk", "south"])
@pytest.mark.parametrize("convention", ["as_drawn", "clipped"])
def test_region_file_matches_independent_areas(store, files, refs, name, convention):
    from frontline.analysis.area import areas_at

    path, _, label = files[name]
    bad = []
    for date in DATES:
        vid, ref = refs[(name, date)]
        (row,) = areas_at(store, vid, region=str(path), convention=convention)
        assert row["version_id"] == str(vid) and row["region"] == label
        for what in ("ua", "ru", "contested"):
            want, got = ref[convention][what], row[f"{what}_km2"]
            if not close(got, want):
                bad.append(f"{date} {what}: frontline {got} vs reference {want:.3f}")
    assert not bad, f"{name} {convention}: " + "; ".join(bad)


def test_references_measure_something(refs):
    """The regions hold what they were drawn around: Russian ground near Pokrovsk, Ukrainian ground in Kursk,
    grey zone and Russian ground in the south — so the comparisons above are not of zeros."""
    for date in DATES:
        assert refs[("pokrovsk", date)][1]["as_drawn"]["ru"] > 1000
        assert refs[("kursk", date)][1]["as_drawn"]["ua"] > 100
        assert refs[("south", date)][1]["as_drawn"]["ru"] > 5000
        assert refs[("south", date)][1]["as_drawn"]["contested"] > 1
    ukr_sea = refs[("south", DATES[0])][1]
    assert ukr_sea["as_drawn"]["ru"] > ukr_sea["clipped"]["ru"]  # the south box's sea counts only as drawn


def test_cli_series_of_a_region_file(store_path, files, land, raw):
    """The series a user asks for (--from/--to --every month, --json and --csv) against the reference at its rows."""
    path, poly, label = files["kursk"]
    r = run_cli(
        "area",
        "--region",
        str(path),
        "--from",
        "2024-09-01",
        "--to",
        "2025-02-28",
        "--every",
        "month",
        "--convention",
        "as_drawn",
        "--json",
        store_path=store_path,
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["period"] for row in rows] == ["2024-09", "2024-10", "2024-11", "2024-12", "2025-01", "2025-02"]
    assert {row["region"] for row in rows} == {label}
    assert rows[0]["ua_km2"] > rows[-1]["ua_km2"] > 0  # the salient shrank from autumn 2024 to February 2025
    for row in (rows[0], rows[3]):
        ref = reference(raw(row["version_id"]), poly, land)["as_drawn"]
        for what in ("ua", "ru", "contested"):
            assert close(row[f"{what}_km2"], ref[what]), (row["period"], what, row[f"{what}_km2"], ref[what])
    r2 = run_cli(
        "area",
        "--region",
        str(path),
        "--from",
        "2024-12-01",
        "--to",
        "2024-12-31",
        "--every",
        "week",
        "--csv",
        store_path=store_path,
    )
    assert r2.returncode == 0, r2.stderr
    lines = r2.stdout.splitlines()
    head = lines[0].split(",")
    assert head[:2] == ["region", "convention"] and len(lines) == 1 + 6  # ISO weeks 2024-W48 (1 December) .. 2025-W01
    last = dict(zip(head, lines[-1].split(",")))
    assert last["region"] == label and last["convention"] == "clipped"
    ref = reference(raw(last["version_id"]), poly, land)["clipped"]
    for what in ("ua", "ru", "contested"):
        assert close(float(last[f"{what}_km2"]), ref[what]), (what, last[f"{what}_km2"], ref[what])
