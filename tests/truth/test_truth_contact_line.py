"""The front's length on the real archive, against an independent computation and public figures.

Reference (json + shapely + pyproj only, nothing from Frontline): in each state, the ground it has lost
(Ukraine: DeepState's occupied, ORDLO, Crimea and Tuzla polygons plus its grey "unknown status" zone;
Russia: DeepState's "liberated" polygons plus grey, as in Kursk), clipped to the state's land from the npm
border file with its lakes and rivers filled, parts and holes under 1 km² dropped. Its outline, minus
everything within 500 m of the state's outer boundary (the state border and the sea coast), is the front.
Public figures: Ukraine's commander-in-chief Syrskyi, ~1,040 km of active front on 2024-08-20 and ~1,250 km
on 2025-09-26 (../shared/reference/public-figures.md). Official figures are lengths of a smoothed line;
a line traced along drawn polygons is longer, hence 20%.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import shape

from .conftest import run_cli

GEOD = Geod(ellps="WGS84")
LAEA = "+proj=laea +lat_0=48.5 +lon_0=34 +ellps=WGS84"
FWD = Transformer.from_crs("EPSG:4326", LAEA, always_xy=True)
BACK = Transformer.from_crs(LAEA, "EPSG:4326", always_xy=True)
RU_KEYS = ("status.occupied", "territories.ordlo", "territories.crimea", "territories.tuzla")
RUSSIA_BOX = shapely.box(30, 44, 42.5, 54.5)  # Russia's part of the theatre
DATES = {  # version id: date, public figure (km, who, when) or None
    1724184993: ("2024-08-20", (1040.0, "Syrskyi", "2024-08-20")),
    1735678434: ("2024-12-31", None),
    1754251105: ("2025-08-03", (1250.0, "Syrskyi", "2025-09-26")),
}


def to_m(g):
    return shapely.transform(g, lambda c: np.column_stack(FWD.transform(c[:, 0], c[:, 1])))


def to_ll(g):
    return shapely.transform(g, lambda c: np.column_stack(BACK.transform(c[:, 0], c[:, 1])))


def km(g_ll) -> float:
    return GEOD.geometry_length(g_ll) / 1000.0


@pytest.fixture(scope="module")
def land(borders):
    """Ukraine and Russia's theatre part, lakes and rivers filled, in metres."""

    def filled(geom, box=None):
        ps = [shapely.make_valid(shapely.Polygon(p.exterior)) for p in shapely.get_parts(shape(geom))]
        if box is not None:
            ps = [p.intersection(box) for p in ps if p.intersects(box)]
        return to_m(shapely.union_all(ps))

    return {"ua": filled(borders["UKR"]), "ru": filled(borders["RUS"], RUSSIA_BOX)}


def drawn(fc: dict):
    """(ru-held, grey, liberated) unions of one raw version, by DeepState's geoJSON keys."""
    ru, grey, lib = [], [], []
    for f in fc["features"]:
        g = f.get("geometry")
        if not g or "Polygon" not in g["type"]:
            continue
        name = (f.get("properties") or {}).get("name") or ""
        key = name.split("geoJSON.")[-1] if "geoJSON." in name else ""
        geom = shapely.make_valid(shapely.force_2d(shape(g)))
        if key.startswith(RU_KEYS):
            ru.append(geom)
        elif key.startswith("status.unknown"):
            grey.append(geom)
        elif key.startswith("status.dismissed"):
            lib.append(geom)
    return shapely.union_all(ru), shapely.union_all(grey), shapely.union_all(lib)


def without_small(g, min_m2=1e6):
    parts = []
    for p in shapely.get_parts(g):
        if p.geom_type == "Polygon" and p.area >= min_m2:
            parts.append(shapely.Polygon(p.exterior, [h for h in p.interiors if shapely.Polygon(h).area >= min_m2]))
    return shapely.union_all(parts) if parts else shapely.Polygon()


def reference_front(fc: dict, land) -> dict[str, object]:
    """``state → front line`` (lon/lat) worked out from the raw polygons."""
    ru, grey, lib = drawn(fc)
    out = {}
    for state, lost in (("ua", shapely.union(ru, grey)), ("ru", shapely.union(lib, grey))):
        lost = without_small(shapely.intersection(to_m(lost), land[state]))
        near = land[state].boundary.intersection(lost.buffer(1000.0))  # the outer boundary where it matters
        out[state] = to_ll(lost.boundary.difference(near.buffer(500.0)))
    return out


@pytest.fixture(scope="module", params=sorted(DATES))
def case(request, raw, land, store_path):
    vid = request.param
    ref = reference_front(raw(vid), land)
    r = run_cli("contact-line", "--at", str(vid), "--json", store_path=store_path)
    assert r.returncode == 0, r.stderr
    tool = json.loads(r.stdout)
    assert tool["version_id"] == str(vid)
    return vid, ref, tool


def test_length_agrees_with_the_independent_front(case):
    vid, ref, tool = case
    ref_km = km(ref["ua"]) + km(ref["ru"])
    assert ref_km > 500  # the reference itself is a front, not a fragment
    assert tool["total_km"] == pytest.approx(ref_km, rel=0.10), (DATES[vid][0], tool["length_km"], ref_km)
    # and per state: the front inside Ukraine and the one inside Russia (Kursk) separately
    ua_km = sum(tool["by_state"]["ua"].values())
    assert ua_km == pytest.approx(km(ref["ua"]), rel=0.10)
    ru_ref = km(ref["ru"])
    assert sum(tool["by_state"]["ru"].values()) == pytest.approx(ru_ref, rel=0.35, abs=25.0)


@pytest.mark.parametrize("vid", [v for v in sorted(DATES) if DATES[v][1]])
def test_length_agrees_with_the_public_figure(vid, store_path):
    date, (figure, who, when) = DATES[vid]
    r = run_cli("contact-line", "--at", str(vid), "--json", store_path=store_path)
    assert r.returncode == 0, r.stderr
    tool = json.loads(r.stdout)
    # Syrskyi's "active front" is the line inside Ukraine; the Kursk front is counted apart.
    ua_km = sum(tool["by_state"]["ua"].values())
    assert ua_km == pytest.approx(figure, rel=0.20), f"{date}: {ua_km:.0f} km vs {figure:.0f} km ({who}, {when})"


def test_line_lies_on_the_independent_front(case, tmp_path, store_path):
    """At least 85% of the reference line lies within 3 km of the tool's line."""
    vid, ref, _ = case
    out = tmp_path / "front.geojson"
    r = run_cli("contact-line", "--at", str(vid), "--geojson", str(out), store_path=store_path)
    assert r.returncode == 0, r.stderr
    fc = json.loads(out.read_text())
    tool = to_m(shapely.union_all([shape(f["geometry"]) for f in fc["features"]]))
    ref_m = to_m(shapely.union_all([ref["ua"], ref["ru"]]))
    near = ref_m.intersection(tool.buffer(3000.0))
    share = near.length / ref_m.length
    assert share >= 0.85, f"{DATES[vid][0]}: only {share:.0%} of the reference front is within 3 km of the tool's"
    # and the other way round: the tool draws no long front the reference lacks
    back = tool.intersection(ref_m.buffer(3000.0)).length / tool.length
    assert back >= 0.85, f"{DATES[vid][0]}: {1 - back:.0%} of the tool's front is > 3 km from the reference"


def test_series_moves_only_when_the_map_moves(store_path):
    """Weekly lengths over a year: every jump above 5% comes with the map change that explains it."""
    r = run_cli(
        "contact-line", "--from", "2024-06-01", "--to", "2025-08-03", "--every", "week", "--json", store_path=store_path
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) >= 55
    for prev, cur in zip(rows, rows[1:]):
        change = abs(cur["total_km"] - prev["total_km"]) / prev["total_km"]
        if change > 0.05:
            assert "jump" in cur and cur["jump"]["area_change_km2"], cur
        assert change < 0.15, (prev["time"], prev["total_km"], cur["time"], cur["total_km"])
    # The Kursk incursion (from 2024-08-06) is the year's one big move: a front inside Russia appears.
    assert any(r.get("jump") and "2024-08" in r["time"] for r in rows)
