"""``frontline roads``: import a road network into the store; exposure to fire; the last road out of a salient."""

from __future__ import annotations

import json
from pathlib import Path

import click
from shapely.errors import GEOSException

from ..errors import InputError
from ._common import AT_OPT, STORE_OPT, _print_json, _table, console, guard, parse_lonlat


def _parse_ranges(items) -> dict[str, float] | None:
    if not items:
        return None
    out = {}
    for it in items:
        name, sep, km = it.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name.strip()] = float(km)
        except ValueError:
            raise InputError(f"--range {it!r} is not name=km (e.g. --range fpv=15).") from None
    return out


def _roads_at(st, at, source, ranges):
    """``(ranges, stored roads, map at the time)`` for the exposure commands.

    Raises
    ------
    InputError
        On a malformed ``--range`` or a store without roads.
    """
    from ..state import state_at
    from ..store.reference import load_roads

    rng = _parse_ranges(ranges)
    roads = load_roads(st)
    if roads is None:
        raise InputError(f"The store {st.path} holds no roads: run `frontline roads import FILE` first.")
    cmap, _ = state_at(st, at, source)
    return rng, roads, cmap


def _salient(cmap, side: str, near: str | None):
    """The piece of ``side``'s ground abroad nearest ``near`` (``"lon,lat"``), else the largest."""
    import numpy as np
    import shapely

    from ..geodesy import areas_km2

    if side not in cmap.held:
        raise InputError(f"Unknown side {side!r}; the store's sides are {', '.join(cmap.held)}.")
    parts = shapely.get_parts(cmap.control.abroad(side))
    if len(parts) == 0:
        raise InputError(f"Side {side!r} holds no ground outside its home at {cmap.version_id}: no salient.")
    if not near:
        return parts[int(np.argmax(areas_km2(parts)))]
    lon, lat = parse_lonlat(near)
    return parts[int(np.argmin(shapely.distance(parts, shapely.Point(lon, lat))))]


@click.group()
def roads():
    """Road network in the store: import it, measure its exposure, find the last road out."""


@roads.command("import")
@STORE_OPT
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--all-classes", is_flag=True, help="Keep every highway class (default: motorway … track).")
@click.option("--bbox", default=None, help="min_lon,min_lat,max_lon,max_lat: keep roads touching it.")
@click.option("--merge-by", type=click.Choice(["ref", "name"]), default=None, help="Join ways into routes.")
@click.option(
    "--replace",
    is_flag=True,
    help="Drop the stored roads first (default: add to them; a road already stored — same OSM way id "
    "or identical line — is updated).",
)
@guard(store="write")
def import_roads(st, path, all_classes, bbox, merge_by, replace):
    """Add roads from an OSM file (.osm.pbf, .osm) or a GDAL line layer (GeoJSON, GPKG, …) to the store."""
    from ..sources.osm import DEFAULT_CLASSES, read_roads
    from ..store.reference import put_roads

    box = [float(x) for x in bbox.split(",")] if bbox else None
    if box is not None and len(box) != 4:
        raise InputError(f"--bbox {bbox!r} must be four numbers: min_lon,min_lat,max_lon,max_lat.")
    r = read_roads(path, classes=None if all_classes else DEFAULT_CLASSES, bbox=box, merge_by=merge_by)
    res = put_roads(st, r, origin=str(path), replace=replace)
    console.print(f"{path}: {res.describe('roads')} in {st.path}.")
    for p in r.problems[:10]:
        console.print(f"  skipped: {p}")
    if len(r.problems) > 10:
        console.print(f"  … and {len(r.problems) - 10} more problems")


@roads.command()
@STORE_OPT
@AT_OPT
@click.option("--side", required=True, help="Whose roads (the enemy is every other side; grey ground counts as enemy).")
@click.option(
    "--range", "ranges", multiple=True, help="name=km, repeatable (default fpv=10 tube_artillery=20 loitering_mlrs=40)."
)
@click.option("--top", default=20, show_default=True, help="Rows shown in the table (most exposed first).")
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False), default=None)
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def exposure(st, at, side, ranges, top, geojson_path, source, as_json):
    """Length and share of each of a side's roads within fire range of enemy or contested ground."""
    from ..analysis.roads import road_exposure

    rng, rd, cmap = _roads_at(st, at, source, ranges)
    table = road_exposure(rd, cmap, side, rng)
    if geojson_path:
        Path(geojson_path).write_text(json.dumps(table.to_geojson(), ensure_ascii=False))
    if as_json:
        _print_json(
            {
                "time": table.valid_time,
                "version_id": table.version_id,
                "side": side,
                "ranges_km": table.ranges_km,
                "roads": list(table),
            }
        )
        return
    names = list(table.ranges_km)
    rows = sorted(table, key=lambda r: -r["exposed_km"][names[0]])[:top]
    flat = [
        {
            "label": r["label"],
            "class": r["class"],
            "length_km": r["length_km"],
            "inside_km": r["inside_km"],
            **{f"{n}_km": r["exposed_km"][n] for n in names},
            "worst": r["worst"],
        }
        for r in rows
    ]
    _table(
        flat,
        ["label", "class", "length_km", "inside_km", *[f"{n}_km" for n in names], "worst"],
        title=f"Road exposure of {side} at {table.valid_time}",
        caption="km within each range of enemy-held or contested ground (ranges: "
        + ", ".join(f"{n} {k:g} km" for n, k in table.ranges_km.items())
        + ")",
    )


@roads.command("last-out")
@STORE_OPT
@AT_OPT
@click.option("--side", required=True, help="The side holding the salient.")
@click.option("--near", default=None, help="lon,lat inside (or near) the salient; default: its largest piece.")
@click.option("--range", "ranges", multiple=True, help="name=km, repeatable.")
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False), default=None)
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
@guard(store="read", also=(GEOSException,))
def last_out(st, at, side, near, ranges, geojson_path, source, as_json):
    """The least exposed road route from a salient (ground held outside home) back to home."""
    from ..analysis.roads import last_road_out

    rng, rd, cmap = _roads_at(st, at, source, ranges)
    salient = _salient(cmap, side, near)
    out = last_road_out(rd, cmap, side, salient, cmap.control.theatre.homes[side], rng)
    if geojson_path:
        Path(geojson_path).write_text(json.dumps(out.to_geojson(), ensure_ascii=False))
    if as_json:
        d = out.as_dict()
        _print_json(d | {"routes": [{k: v for k, v in r.items() if k != "geometry"} for r in d["routes"]]})
        return
    if out.best is None:
        console.print(f"No road out: {out.note}")
        return
    names = list(out.ranges_km)
    rows = [
        {
            "rank": r.rank,
            "roads": ", ".join(r.roads) or "unnamed",
            "length_km": r.length_km,
            "inside_km": r.inside_km,
            **{f"{n}_km": r.exposed_km[n] for n in names},
            **{f"{n}_share": f"{r.exposed_share[n]:.0%}" for n in names},
        }
        for r in out.routes
    ]
    _table(
        rows,
        ["rank", "roads", "length_km", "inside_km", *[f"{n}_km" for n in names], *[f"{n}_share" for n in names]],
        title=f"Roads out of {side}'s salient at {out.valid_time}",
        caption="first row: the least exposed way out",
    )
