"""Settlements known to have changed hands, on the real archive: the dates Frontline reports for them.

Public dates (../shared/reference/public-figures.md, "Settlements and dates"): Avdiivka, Ukraine withdrew
2024-02-17; Vuhledar, Ukraine withdrew about 2024-10-01; Selydove, taken about 2024-10-29; Kurakhove, taken
about 2025-01-06 (announced); Sudzha (Kursk oblast, Russia), Russia announced its capture on 2025-03-13, after
Ukraine had held it from August 2024 (the incursion began on 2024-08-06).

Used as a user would: the store is copied to tmp_path, a GeoJSON point layer of the towns below is imported with
``frontline settlements import FILE --countries ''`` (a GDAL layer without a country field: ``--countries ''``
keeps every row), and ``frontline settlements changed --from --to --include-reverted --json`` and
``frontline settlements status --at --json`` are read.

Town points (lon, lat, WGS84), the town centres: Avdiivka 37.7425, 48.1399; Vuhledar 37.2486, 47.7794;
Selydove 37.3003, 48.1471; Kurakhove 37.2821, 47.9852; Sudzha 35.2710, 51.1920. Kurakhove stretches ~10 km
along its reservoir and was fought over for six weeks, so a second point, Kurakhove-West 37.2450, 47.9830
(the western districts by the power plant, ~2.8 km west of the centre), pins the date of the announcement,
which came when the last of the town fell.

(a) Tolerance. The first version with the new status ("ru"; "ua" for Sudzha in August 2024) must lie within
7 days of the public date: DeepState first draws a contested town grey ("unknown status") and turns it red
only once the loss is confirmed, and a withdrawal or a Russian announcement can come a few days before the
map turns (announcements lead when claimed ahead of the fact) or after it (Sudzha's line was pulled back the
day before Russia announced). The Kurakhove centre alone may turn up to 45 days early (never more than 7 days
late): DeepState drew it red on 2024-11-29, weeks before the western districts fell.

(b) Reference, worked out here from the raw files with json + shapely only (nothing from Frontline): in each
version of a window around the date, the point is "contested" when it lies in (or on the edge of) the grey
zone, else "ru" inside the union of occupied, ORDLO, Crimea and Tuzla polygons, else "ua" inside a
"liberated" polygon (which, in Russia, is ground Ukraine holds there: Kursk), else its own state's side. From
2024-03-23 the polygons carry DeepState's ``geoJSON.<key>`` in their name (status.occupied,
territories.ordlo/crimea/tuzla, status.unknown, status.dismissed*). Earlier versions have no key and are
classified by ``fill``, found by reading the files of February 2024: #a52714 "Окуповано /// Occupied" and
#880e4f ORDLO, Crimea and Tuzla (ru), #bcaaa4 "Статус невідомий /// Unknown status" (grey), #0f9d58 (and the
blues #0288d1/#01579b of 2022) "Звільнено /// Liberated"; #ff5252 marks DeepState's satirical "occupied"
territories outside the theatre (Karelia, Petsamo, Abkhazia…) and is ignored. Every transition in the window
(version, from, to) must be the tool's too; a version may differ by one only where the reference point lies
within 50 m of a polygon edge in the version the two disagree on, since the store keeps the polygons after
its own validity repair, overlap resolution and tiling, which can move an edge by metres. (In these windows the
two agree exactly, although the Avdiivka centre is 4 m and the Kurakhove centre 14 m from a red/grey edge in
their first red versions.)
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import shapely
from shapely.geometry import Point, shape

from .conftest import run_cli

TOWNS = {  # name: (lon, lat), see the docstring
    "Avdiivka": (37.7425, 48.1399),
    "Vuhledar": (37.2486, 47.7794),
    "Selydove": (37.3003, 48.1471),
    "Kurakhove": (37.2821, 47.9852),
    "Kurakhove-West": (37.2450, 47.9830),
    "Sudzha": (35.2710, 51.1920),
}
WINDOWS = {  # the versions scanned (raw files are read only for these), as the CLI's --from/--to dates
    "avdiivka": ("2024-01-20", "2024-03-10"),
    "autumn-2024": ("2024-09-10", "2024-11-15"),
    "kurakhove": ("2024-11-10", "2025-01-20"),
    "kursk-2024": ("2024-08-01", "2024-08-31"),
    "kursk-2025": ("2025-02-20", "2025-03-31"),
}


@dataclass(frozen=True)
class Case:
    town: str
    home: str  # the state the town lies in: "ua" (Ukraine) or "ru" (Russia)
    old: str
    new: str
    public: str  # public date of the change
    window: str
    early: int = 7  # days the first new-status version may come before the public date
    late: int = 7  # … and after it


CASES = {
    "Avdiivka": Case("Avdiivka", "ua", "ua", "ru", "2024-02-17", "avdiivka"),
    "Vuhledar": Case("Vuhledar", "ua", "ua", "ru", "2024-10-01", "autumn-2024"),
    "Selydove": Case("Selydove", "ua", "ua", "ru", "2024-10-29", "autumn-2024"),
    "Kurakhove": Case("Kurakhove", "ua", "ua", "ru", "2025-01-06", "kurakhove", early=45),
    "Kurakhove-West": Case("Kurakhove-West", "ua", "ua", "ru", "2025-01-06", "kurakhove"),
    # Ukrainian-held "from August 2024": after the incursion began (2024-08-06), within the month.
    "Sudzha-2024": Case("Sudzha", "ru", "ru", "ua", "2024-08-06", "kursk-2024", early=0, late=25),
    "Sudzha-2025": Case("Sudzha", "ru", "ua", "ru", "2025-03-13", "kursk-2025"),
}

# --- the independent reference -----------------------------------------------------------------------------
RU_KEYS = ("status.occupied", "territories.ordlo", "territories.crimea", "territories.tuzla")
FILLS = {"#a52714": "ru", "#880e4f": "ru", "#bcaaa4": "grey", "#0f9d58": "lib", "#0288d1": "lib", "#01579b": "lib"}
NAME_SAYS = (("Unknown status", "grey"), ("Liberated", "lib"), ("Окуповано", "ru"), ("Occupied", "ru"))
EDGE_M = 50.0
NEAR_DEG = 0.02  # edges farther than this (~1.5-2 km) do not matter for the 50 m rule


def polygon_class(feature: dict) -> str | None:
    """'ru', 'grey', 'lib' or None for one raw feature."""
    g = feature.get("geometry")
    if not g or "Polygon" not in g["type"]:
        return None
    p = feature.get("properties") or {}
    name = p.get("name") or ""
    if "geoJSON." in name:
        key = name.split("geoJSON.")[-1]
        if key.startswith(RU_KEYS):
            return "ru"
        if key.startswith("status.unknown"):
            return "grey"
        if key.startswith("status.dismissed"):
            return "lib"
        return None
    fill = (p.get("fill") or "").lower()
    cls = FILLS.get(fill)
    if cls is not None:  # the fill and a legible name must agree
        said = next((c for word, c in NAME_SAYS if word in name), None)
        assert said in (None, cls), (fill, name)
    return cls


def _utc(d: str, end: bool = False) -> float:
    t = datetime.fromisoformat(d).replace(tzinfo=UTC)
    return (t + timedelta(days=1, seconds=-1) if end else t).timestamp()


def _iso(vid: int) -> str:
    return datetime.fromtimestamp(vid, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _metres(lon0: float, lat0: float):
    kx, ky = 111_320.0 * math.cos(math.radians(lat0)), 110_574.0
    return lambda c: (c - (lon0, lat0)) * (kx, ky)


def reference_status(fc: dict, towns: dict[str, tuple[float, float, str]]) -> dict[str, tuple[str, float]]:
    """``town → (status, metres to the nearest polygon edge, capped at ~1.5 km)`` in one raw version."""
    pts = {t: Point(lon, lat) for t, (lon, lat, _) in towns.items()}
    boxes = {
        t: shapely.box(lon - NEAR_DEG, lat - NEAR_DEG, lon + NEAR_DEG, lat + NEAR_DEG)
        for t, (lon, lat, _) in towns.items()
    }
    hits = {t: set() for t in towns}
    edge = {t: NEAR_DEG * 80_000.0 for t in towns}
    for f in fc["features"]:
        cls = polygon_class(f)
        if cls is None:
            continue
        geom = shape(f["geometry"])
        near = [t for t in towns if shapely.intersects(shapely.box(*geom.bounds), boxes[t])]
        if not near:
            continue
        geom = shapely.make_valid(shapely.force_2d(geom))
        for t in near:
            if geom.intersects(pts[t]):  # closed: a point on the edge is in
                hits[t].add(cls)
            b = geom.boundary.intersection(boxes[t])
            if not b.is_empty:
                lon, lat, _ = towns[t]
                edge[t] = min(edge[t], shapely.transform(b, _metres(lon, lat)).distance(Point(0, 0)))
    out = {}
    for t, (_, _, home) in towns.items():
        h = hits[t]
        s = "contested" if "grey" in h else "ru" if "ru" in h else "ua" if "lib" in h else home
        out[t] = (s, edge[t])
    return out


def window_ids(raw_ids: list[int], window: str) -> list[int]:
    """The versions the CLI compares for --from/--to: the one in force at the start, then those up to the end."""
    t0, t1 = _utc(WINDOWS[window][0]), _utc(WINDOWS[window][1], end=True)
    first = max(v for v in raw_ids if v <= t0)
    return [first] + [v for v in raw_ids if t0 < v <= t1]


def transitions(vids: list[int], statuses: list[str]) -> list[tuple[int, str, str]]:
    return [(vids[i], statuses[i - 1], statuses[i]) for i in range(1, len(vids)) if statuses[i] != statuses[i - 1]]


# --- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def towns_store(store_path, tmp_path_factory):
    """A copy of the archive store with the towns imported from a GeoJSON point layer through the CLI."""
    d = tmp_path_factory.mktemp("settlements")
    copy = d / "store.gpkg"
    shutil.copyfile(store_path, copy)
    wal = store_path.with_name(store_path.name + "-wal")
    if wal.is_file() and wal.stat().st_size:
        shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
    layer = d / "towns.geojson"
    layer.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": name},
                        "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    }
                    for name, (lon, lat) in TOWNS.items()
                ],
            }
        ),
        encoding="utf-8",
    )
    r = run_cli("settlements", "import", str(layer), "--countries", "", store_path=copy)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Imported {len(TOWNS)} settlements" in r.stdout, r.stdout
    return copy


@pytest.fixture(scope="module")
def reference(raw, raw_ids):
    """``window → (version ids, {town: [(status, edge metres) per version]})`` from the raw files."""
    cache: dict[str, tuple] = {}

    def get(window: str):
        if window not in cache:
            towns = {c.town: (*TOWNS[c.town], c.home) for c in CASES.values() if c.window == window}
            vids = window_ids(raw_ids, window)
            per = [reference_status(raw(v), towns) for v in vids]
            cache[window] = vids, {t: [p[t] for p in per] for t in towns}
        return cache[window]

    return get


@pytest.fixture(scope="module")
def changed(towns_store):
    """``window → the JSON of `frontline settlements changed` over it``."""
    cache: dict[str, dict] = {}

    def get(window: str) -> dict:
        if window not in cache:
            t0, t1 = WINDOWS[window]
            r = run_cli(
                "settlements",
                "changed",
                "--from",
                t0,
                "--to",
                t1,
                "--include-reverted",
                "--json",
                store_path=towns_store,
            )
            assert r.returncode == 0, r.stderr
            cache[window] = json.loads(r.stdout)
        return cache[window]

    return get


def tool_transitions(out: dict, town: str) -> list[tuple[int, str, str]]:
    rows = [r for r in out["settlements"] if r["name"] == town]
    assert len(rows) <= 1
    if not rows:
        return []
    return [(int(t["version_id"]), t["from"], t["to"]) for t in rows[0]["transitions"]]


def first_with(trans: list[tuple[int, str, str]], status: str) -> int | None:
    return next((v for v, _, to in trans if to == status), None)


# --- tests ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(CASES))
def test_first_new_status_is_near_the_public_date(key, changed):
    c = CASES[key]
    out = changed(c.window)
    trans = tool_transitions(out, c.town)
    assert trans, f"{c.town}: Frontline reports no change of hands between {WINDOWS[c.window]}"
    assert trans[0][1] == c.old, (c.town, trans)
    assert trans[-1][2] == c.new, (c.town, trans)
    first = first_with(trans, c.new)
    assert first is not None
    day = datetime.fromtimestamp(first, UTC).date()
    public = date.fromisoformat(c.public)
    assert public - timedelta(days=c.early) <= day <= public + timedelta(days=c.late), (
        f"{c.town}: first '{c.new}' version {first} ({_iso(first)}), public date {c.public} "
        f"(allowed -{c.early}/+{c.late} days); transitions {trans}"
    )
    # the map moves away from the old status (grey, or straight to the new one) no later than that
    assert trans[0][0] <= first


@pytest.mark.parametrize("key", sorted(CASES))
def test_tool_agrees_with_the_independent_reference(key, changed, reference):
    c = CASES[key]
    vids, per_town = reference(c.window)
    series = per_town[c.town]
    statuses = [s for s, _ in series]
    ref = transitions(vids, statuses)
    out = changed(c.window)
    assert out["from"] == _iso(vids[0]) and out["to"] == _iso(vids[-1]), (out["from"], out["to"], WINDOWS[c.window])
    assert out["versions"] == len(vids)
    tool = tool_transitions(out, c.town)
    # The reference itself shows the change the public sources describe.
    assert statuses[0] == c.old and statuses[-1] == c.new, (c.town, ref)
    first_ref, first_tool = first_with(ref, c.new), first_with(tool, c.new)
    msg = f"{c.town}: tool {tool} vs reference {ref}"
    assert [(f, t) for _, f, t in tool] == [(f, t) for _, f, t in ref], msg
    for (tv, _, _), (rv, _, _) in zip(tool, ref):
        if tv == rv:
            continue
        i, j = vids.index(tv), vids.index(rv)
        disputed = min(i, j)  # the version on which one says the old status and the other the new
        assert abs(i - j) == 1 and series[disputed][1] < EDGE_M, (
            f"{msg}: {tv} vs {rv}, point {series[disputed][1]:.0f} m from an edge in {vids[disputed]}"
        )
    assert first_tool is not None and first_ref is not None, msg


@pytest.mark.parametrize("key", sorted(CASES))
def test_status_at_the_first_new_version(key, changed, towns_store):
    """``settlements status --at`` says the same as ``changed``: old just before, new at the first version."""
    c = CASES[key]
    trans = tool_transitions(changed(c.window), c.town)
    first = first_with(trans, c.new)
    assert first is not None
    before = next(f for v, f, to in trans if v == first)
    for at, expected in ((first, c.new), (first - 1, before)):
        r = run_cli("settlements", "status", "--at", str(at), "--json", store_path=towns_store)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        if at == first:
            assert out["version_id"] == str(first)
        else:
            assert int(out["version_id"]) < first
        got = {s["name"]: s["status"] for s in out["settlements"]}
        assert got[c.town] == expected, (c.town, at, out["version_id"], got)
