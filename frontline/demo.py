"""A generated scenario that needs no outside data: a salient squeezed over weeks.

Modelled on Kursk, winter 2025: ground held by ``ua`` inside Russia near
Sudzha, in two lobes joined by a corridor that narrows week by week from 6 km
to 400 m, ringed by grey contested ground; elsewhere a Donetsk front creeping
west, Crimea drawn over the sea as DeepState draws it, a "liberated" history
label and a political joke polygon that must never count. The snapshots are
written in DeepStateMAP's API shape and imported through the same importer as
real data; a small gazetteer (GeoNames format) and a road (GeoJSON) come with
them and are imported as the store's ``settlements`` and ``roads`` layers.

The corridor is a straight strip of known width (:func:`neck_width_m`) from
the Sudzha lobe deeper into Russia to the far lobe, all of it ground held
abroad, so the corridor analysis must report exactly that width; ``run_demo``
prints both side by side, with the last road out at the last week.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Point, box, mapping

from .borders import cache_dir, default_theatre
from .geodesy import LocalProjection
from .model import iso

SUDZHA = (35.2700, 51.1920)
NECK_ACROSS_KM = 4.0  # offset of the corridor's axis from Sudzha's, across the salient
START = datetime(2025, 1, 6, 20, 0, tzinfo=UTC)

NAMES = {
    "occupied": "Окуповано /// Occupied /// geoJSON.status.occupied\n",
    "unknown": "Статус невідомий /// Unknown status\u00a0/// geoJSON.status.unknown",
    "liberated": "Звільнено /// Liberated\u00a0/// geoJSON.status.dismissed\n",
    "liberated_at": "Звільнено 25.03 /// Liberated 25.03\u00a0/// geoJSON.status.dismissed_at {{at:25.03}}",
    "crimea": "Окупований Крим /// Occupied Crimea /// geoJSON.territories.crimea",
    "karelia": "Тимчасово окупована територія Карелії.\n///\nThe temporarily occupied territory of Karelia.\n"
    "/// geoJSON.territories.karelia\n",
    "arrow": "Напрямок удару /// Direction of attack\u00a0/// geoJSON.status.attack_direction\n",
}

# Settlements of the scenario: (GeoNames-like id, name, alternate names, offset along/across the salient in km;
# +along runs from Sudzha away from the border, deeper into Russia; Yunakivka lies over the border in Ukraine;
# Martynovka and Cherkasskoye Porechnoye lie inside the salient at first and fall as it shrinks)
SETTLEMENTS = [
    (9000001, "Sudzha", "Суджа,Sudja,Sudža", (0.0, 0.0)),
    (9000002, "Lebedevka", "Лебедевка,Лебедівка,Lebedivka", (12.0, 4.0)),
    (9000003, "Malaya Loknya", "Малая Локня,Мала Локня,Mala Loknia", (22.0, 4.0)),
    (9000004, "Cherkasskoye Porechnoye", "Черкасское Поречное,Черкаське Поріччя", (34.0, 4.0)),
    (9000005, "Martynovka", "Мартыновка,Мартинівка", (8.0, -1.5)),
    (9000006, "Yunakivka", "Юнаківка,Юнаковка,Yunakovka", (-12.0, 0.0)),
]


def default_demo_dir() -> Path:
    return cache_dir() / "demo"


def default_demo_store() -> Path:
    return default_demo_dir() / "demo.gpkg"


class _Frame:
    """Metric frame at Sudzha: +along points from the border into Russia, +across to its left."""

    def __init__(self):
        th = default_theatre()
        self.theatre = th
        self.proj = LocalProjection(*SUDZHA)
        ua_m = self.proj.to_metric(shapely.clip_by_rect(th.homes["ua"], 34.5, 50.7, 36.0, 51.7))
        origin = Point(0, 0)
        near = shapely.shortest_line(origin, ua_m).coords[-1]
        d = np.array(near, dtype=float)
        self.border_km = float(np.hypot(*d)) / 1000
        self.u = -d / np.hypot(*d)  # into Russia, away from the border
        self.v = np.array([-self.u[1], self.u[0]])

    def pt(self, along_km: float, across_km: float) -> np.ndarray:
        return (self.u * along_km + self.v * across_km) * 1000

    def disk(self, along_km, across_km, r_km):
        return Point(*self.pt(along_km, across_km)).buffer(r_km * 1000, quad_segs=16)

    def strip(self, a0_km, a1_km, width_m, across_km=0.0):
        p0, p1 = self.pt(a0_km, across_km), self.pt(a1_km, across_km)
        return shapely.LineString([p0, p1]).buffer(width_m / 2, cap_style="flat")

    def lonlat(self, g):
        return self.proj.to_lonlat(g)


def _feature(geom, name, fill="#0f9d58", description=None) -> dict:
    g = mapping(geom)
    props = {"name": name, "fill": fill, "fill-opacity": 0.3, "stroke": fill, "stroke-width": 1}
    if description:
        props["description"] = description

    # DeepState serves 3-D coordinates; so does the demo, to exercise the Z drop.
    def z(c):
        if isinstance(c[0], (int, float)):
            return [round(c[0], 6), round(c[1], 6), 0]
        return [z(x) for x in c]

    g = {"type": g["type"], "coordinates": z(g["coordinates"])}
    return {"type": "Feature", "properties": props, "geometry": g}


def neck_width_m(k: int, weeks: int = 10) -> float:
    """Width in metres of the corridor the scenario builds in week ``k`` (0-based): 6 km narrowing to 400 m."""
    if weeks < 2:
        raise ValueError("The demo needs at least 2 weeks.")
    return 6000 - k / (weeks - 1) * 5600


def scenario(weeks: int = 10) -> list[dict]:
    """The scenario's versions as DeepState API objects ``{id, createdAt, updatedAt, map}``."""
    if weeks < 2:
        raise ValueError("The demo needs at least 2 weeks.")
    fr = _Frame()
    b = fr.border_km
    out = []
    for k in range(weeks):
        f = k / (weeks - 1)
        width_m = neck_width_m(k, weeks)  # 6 km → 400 m
        r_a, r_b = 9.0 - 1.5 * f, 11.0 - 2.5 * f
        lobe_a = fr.disk(0.0, 0.0, r_a)
        base = fr.strip(-(b + 1.0), 0.0, 2 * r_a * 1000 * 0.8)  # reaches 1 km over the border, as drawn
        # The far lobe lies deeper in Russia, so the whole corridor is ground held abroad (as at Kursk,
        # where the northern group hung on the Sudzha group): the neck is the strip's width exactly.
        # The axis runs NECK_ACROSS_KM off Sudzha's: the borders data has small holes (0.03–0.8 km²) all
        # over this area and one lies on Sudzha's axis; a hole in the corridor would narrow it.
        lobe_b = fr.disk(r_a + 6.0 + r_b, NECK_ACROSS_KM, r_b)
        neck = fr.strip(0.0, r_a + 6.0 + r_b, width_m, across_km=NECK_ACROSS_KM)  # centre to centre
        salient_m = shapely.union_all([lobe_a, base, lobe_b, neck])
        grey_m = shapely.difference(salient_m.buffer(1200), salient_m.buffer(0.5))
        grey_m = shapely.difference(grey_m, fr.strip(-(b + 3.0), -(b - 3.0), 30000))  # no grey inside Ukraine
        feats = [
            _feature(fr.lonlat(salient_m), NAMES["liberated"], "#01579b"),
            _feature(fr.lonlat(grey_m), NAMES["unknown"], "#bcaaa4"),
        ]
        # Donetsk front: occupied ground creeping west 1.5 km a week, drawn in two touching polygons.
        west = 37.75 - 0.02 * k
        feats.append(_feature(box(west, 47.7, 38.2, 48.5), NAMES["occupied"], "#a52714"))
        feats.append(_feature(box(38.2, 47.7, 39.6, 48.9), NAMES["occupied"], "#a52714"))
        feats.append(_feature(box(west - 0.03, 47.7, west, 48.5), NAMES["unknown"], "#bcaaa4"))
        # Crimea drawn over the sea; clipped it is the land only.
        feats.append(_feature(box(32.4, 44.3, 36.7, 46.05), NAMES["crimea"], "#880e4f"))
        feats.append(_feature(box(30.3, 50.3, 30.6, 50.5), NAMES["liberated_at"], "#0f9d58"))  # history label
        feats.append(_feature(box(30.0, 61.0, 33.0, 64.0), NAMES["karelia"], "#ff5252"))  # never counts
        for al, ac, arrow in [(r_a + 3.0, 4.0, 9), (r_a + 3.0, -4.0, 1), (25.0, 12.0, 13)]:
            feats.append(
                _feature(fr.lonlat(Point(*fr.pt(al, ac))), NAMES["arrow"], description=f"{{icon=arrow_{arrow}}}")
            )
        feats.append(
            _feature(
                fr.lonlat(Point(*fr.pt(30.0, 8.0))),
                "76-та ДШД /// 76th Air Assault Division",
                description="{icon=enemy}",
            )
        )
        t = START + timedelta(days=7 * k)
        stamp = str(iso(t)).replace("Z", ".000Z")  # the API's own form, milliseconds included
        out.append(
            {
                "id": int(t.timestamp()),
                "createdAt": stamp,
                "updatedAt": stamp,
                "map": {"type": "FeatureCollection", "features": feats},
            }
        )
    return out


def write_scenario(folder: Path, weeks: int = 10) -> list[Path]:
    """Write the scenario's versions, a gazetteer and a road into ``folder``."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "versions").mkdir(parents=True)
    paths = []
    for obj in scenario(weeks):
        p = folder / "versions" / f"{obj['id']}.json"
        p.write_bytes(json.dumps(obj, ensure_ascii=False).encode())
        paths.append(p)
    fr = _Frame()
    rows = []
    for gid, name, alts, (al, ac) in SETTLEMENTS:
        lon, lat = fr.lonlat(Point(*fr.pt(al, ac))).coords[0]
        cc = "UA" if al < -fr.border_km else "RU"
        rows.append(
            "\t".join(
                [
                    str(gid),
                    name,
                    name,
                    alts,
                    f"{lat:.5f}",
                    f"{lon:.5f}",
                    "P",
                    "PPL",
                    cc,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "1000",
                    "",
                    "150",
                    "Europe/Moscow",
                    "2025-01-01",
                ]
            )
        )
    (folder / "settlements.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    # From the far lobe through the neck and Sudzha, over the border to Yunakivka (the Sumy–Sudzha road).
    road = fr.lonlat(
        shapely.LineString(
            [
                fr.pt(34.0, NECK_ACROSS_KM),
                fr.pt(22.0, NECK_ACROSS_KM),
                fr.pt(4.0, NECK_ACROSS_KM),
                fr.pt(0, 0),
                fr.pt(-12.0, 0.0),
            ]
        )
    )
    (folder / "roads.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "Sumy–Sudzha road", "ref": "R-200", "highway": "primary"},
                        "geometry": mapping(road),
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    return paths


def build_demo_store(path: Path | str | None = None, weeks: int = 10, progress: bool = False):
    """Create a fresh store at ``path`` holding the scenario (imported like real data).

    The scenario's gazetteer and road are imported too, as the store's
    ``settlements`` and ``roads`` reference layers.
    """
    from .ingest import Importer
    from .sources import deepstate
    from .store import init_store

    path = Path(path) if path else default_demo_store()
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    folder = path.parent / (path.stem + "-input")
    write_scenario(folder, weeks)
    st = init_store(path)
    rep = Importer(st).run(
        deepstate.read_path(folder / "versions"), total=weeks, progress=progress, label="Importing demo"
    )
    st.log_import(str(folder), rep)
    if rep.failed:
        raise ValueError(f"demo import failed: {rep.problems}")
    from .sources.geonames import read_geonames
    from .sources.osm import read_roads
    from .store.reference import put_roads, put_settlements

    put_settlements(st, read_geonames(folder / "settlements.txt"), origin=str(folder / "settlements.txt"))
    put_roads(st, read_roads(folder / "roads.geojson"), origin=str(folder / "roads.geojson"))
    return st


def run_demo(store_path=None, weeks: int = 10, console=None) -> None:
    """Build the demo store and print its area history, corridor width per week and the last road out."""
    from rich.console import Console
    from rich.table import Table

    from .analysis.area import area_series

    console = console or Console()
    st = build_demo_store(store_path, weeks, progress=True)
    console.print(
        f"Demo store: [bold]{st.path}[/] — {len(st.versions())} weekly versions imported, with settlements and roads."
    )
    clipped = area_series(st, region="russia")
    drawn = {r["version_id"]: r for r in area_series(st, region="russia", convention="as_drawn")}
    ukr = {r["version_id"]: r for r in area_series(st, region="ukraine")}
    widths = {}
    from .analysis.corridors import find_necks
    from .state import state_at

    home_ua = st.regions()["home:ua"][1]
    last_map = None
    for r in clipped:
        cmap, _ = state_at(st, r["time"])
        rep = find_necks(cmap.control.abroad("ua"), home=home_ua)
        widths[r["version_id"]] = min((n.width_m for n in rep.necks), default=None)
        last_map = cmap
    t = Table(
        title="Salient in Russia held by ua, and ground held by ru in Ukraine (geodesic km²)",
        header_style="bold",
        caption="clipped = the partition cut to the region; as drawn = the source's "
        "own polygons (border overshoot included); necks wider than 5 km "
        "are not searched; * narrower than built: water in Russia's land "
        "outline (a pond) cuts into the drawn corridor",
    )
    for c in (
        "week of",
        "ua in Russia (clipped)",
        "as drawn",
        "share of peak",
        "contested in Russia",
        "narrowest neck (m)",
        "built (m)",
        "ru in Ukraine",
    ):
        t.add_column(c, justify="left" if c == "week of" else "right")
    for k, r in enumerate(clipped):
        vid = r["version_id"]
        w = widths.get(vid)
        t.add_row(
            r["time"][:10],
            f"{r['ua_km2']:,.1f}",
            f"{drawn[vid]['ua_km2']:,.1f}",
            f"{r['share_of_peak_ua']:.0%}",
            f"{r['contested_km2']:,.1f}",
            "—" if w is None else f"{w:,.0f}" + ("*" if w < 0.97 * neck_width_m(k, weeks) else ""),
            f"{neck_width_m(k, weeks):,.0f}",
            f"{ukr[vid]['ru_km2']:,.0f}",
        )
    console.print(t)
    _print_last_road(st, last_map, home_ua, console)
    console.print("Next: `frontline --help`; the web map: `frontline serve --store " + str(st.path) + "`")


def _print_last_road(st, cmap, home, console) -> None:
    """The least exposed road out of the salient on the last map, with its exposure per fire range."""
    from .analysis.roads import last_road_out
    from .store.reference import load_roads

    roads = load_roads(st)
    if roads is None or cmap is None:
        return
    salient = cmap.control.abroad("ua")
    try:
        out = last_road_out(roads, cmap, "ua", salient, home)
    except (ValueError, shapely.errors.GEOSException) as exc:
        console.print(f"Last road out: {exc}")
        return
    best = out.best
    if best is None:
        console.print(f"Last road out ({cmap.valid_time:%Y-%m-%d}): none — {out.note}")
        return
    ranges = ", ".join(
        f"{name} ({out.ranges_km[name]:g} km): {km:,.1f} km = {best.exposed_share[name]:.0%}"
        for name, km in best.exposed_km.items()
    )
    console.print(
        f"Last road out of the salient ({cmap.valid_time:%Y-%m-%d}): "
        f"[bold]{', '.join(best.roads) or 'unnamed road'}[/], {best.length_km:,.1f} km to home; "
        f"inside grey ground {best.inside_km:,.1f} km; within reach of the enemy — {ranges}."
    )
