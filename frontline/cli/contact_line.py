"""``frontline contact-line``: the line where the sides' ground meets, with its length over time."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InputError
from ._common import (
    STORE_OPT,
    _print_json,
    _table,
    console,
    guard,
    one_time_or_series,
    path_option,
    series_options,
    stored_note,
)


@click.command("contact-line")
@STORE_OPT
@series_options(
    "One time; the latest version when nothing is given.",
    "Start of a series.",
    "End of a series.",
    "One row per period.",
)
@path_option("--geojson", "geojson_path", help="Write the line (one feature per pair) as GeoJSON (with --at).")
@path_option(
    "--region",
    "region_path",
    help="Polygon file (GeoJSON, GPKG, Shapefile, KML; any CRS): front km inside it, or per feature "
    "with --region-field (e.g. per oblast).",
)
@click.option("--region-field", default=None, help="Attribute naming each feature of --region: one row per feature.")
@click.option("--source", default=None, help="Source name (default: the store's default source).")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@guard(store="read")
def contact_line_cmd(st, at, start, end, every, geojson_path, region_path, region_field, source, as_json, quiet):
    """The front line and its length per pair (ua|ru, ua|contested, ru|contested), geodesic km.

    Front is where a state's own held ground faces the enemy or the grey zone
    inside that state, across rivers and reservoirs too; the state border, the
    sea coast and the grey zone's rear edge (given apart as "rear") are not.
    Series rows whose length jumps more than 5% say what changed on the map.
    Rule and method: docs/contact_line.md.

    \b
    frontline contact-line --at 2025-03-10 --geojson front.geojson
    frontline contact-line --at 2025-08-03 --region oblasts.gpkg --region-field name
    frontline contact-line --from 2024-08-01 --to 2025-03-31 --every week --json
    """
    from ..analysis.contact_line import contact_line
    from ..state import resolve_version, version_control

    series = one_time_or_series(at, start, end, every)
    if region_field and not region_path:
        raise InputError("--region-field needs --region FILE.")
    regions = _regions(region_path, region_field) if region_path else None
    if series:
        if geojson_path:
            raise InputError("--geojson writes one time's line: use --at.")
        rows = _series(st, start, end, every, source, regions, progress=not (quiet or as_json))
        if as_json:
            _print_json(rows)
            return
        _print_series(rows, regions)
        return
    v = resolve_version(st, at, source)
    cl = contact_line(version_control(st, v), regions=regions)
    from ..model import iso

    cl.source, cl.version_id, cl.valid_time = v.source, v.version_id, iso(v.valid_time)
    if geojson_path:
        Path(geojson_path).write_text(json.dumps(cl.to_geojson(), ensure_ascii=False))
    if as_json:
        _print_json(cl.to_dict())
        return
    _print_line(cl, v.version_id, regions)
    if geojson_path:
        console.print(f"Wrote {geojson_path}")


def _series(st, start, end, every, source, regions, progress: bool) -> list[dict]:
    """The series rows: read from the store where ``frontline recompute`` kept them (no regions), else computed.

    Says on stderr how many rows came from the store, and how many were computed.
    """
    from ..analysis.contact_line import front_series

    rule = _stored_rule() if regions is None else None  # stored lines are for the whole map
    rows, n_stored = front_series(
        st, start, end, every=every, source=source, regions=regions, progress=progress, rule=rule
    )
    stored_note(n_stored, len(rows), "contact-line", hint=rule is not None and progress)
    return rows


def _stored_rule() -> str | None:
    """The rule version stored contact lines must have; None when ``$FRONTLINE_STORED_RESULTS`` is off."""
    from ..analysis.materialise import RULES, stored_results_on

    return RULES["contact-line"] if stored_results_on() else None


def _print_line(cl, version_id: str, regions) -> None:
    """The table of one time's front per pair and state (and per region, when regions were given)."""
    states = list(cl.by_state)
    rows = [
        {
            "pair": p,
            "front_km": cl.length_km[p],
            **{f"in_{s}_km": cl.by_state[s][p] for s in states},
            "rear_km": cl.rear_km.get(p, 0.0),
        }
        for p in cl.pairs
    ]
    rows.append(
        {
            "pair": "total",
            "front_km": cl.total_km,
            **{f"in_{s}_km": sum(cl.by_state[s].values()) for s in states},
            "rear_km": sum(cl.rear_km.values()),
        }
    )
    _table(
        rows,
        ["pair", "front_km", *[f"in_{s}_km" for s in states], "rear_km"],
        title=f"Front line at {cl.valid_time} (version {version_id})",
        caption=f"{cl.across_water_km:,.0f} km of it across rivers or reservoirs; "
        "rear = grey zone's rear edge, not counted. Rule: docs/contact_line.md",
    )
    if regions:
        rrows = [
            {"region": n, **{f"{p}_km": d[p] for p in cl.pairs}, "total_km": sum(d.values())}
            for n, d in cl.by_region.items()
        ]
        _table(rrows, ["region", *[f"{p}_km" for p in cl.pairs], "total_km"], title="Front per region (km)")


def _regions(path: str, field: str | None) -> dict:
    """``label → polygon`` from a region file (the same reader, labels and errors as ``frontline area``)."""
    from ..analysis.area import read_region_file

    return {r.label: r.geom for r in read_region_file(path, field=field)}


def _print_series(rows: list[dict], regions) -> None:
    pairs = list(rows[0]["length_km"]) if rows else []
    flat = [
        {
            "time": r["time"],
            "version_id": r["version_id"],
            **{f"{p}_km": r["length_km"][p] for p in pairs},
            "total_km": r["total_km"],
            "jump": "*" if r.get("jump") else "",
        }
        for r in rows
    ]
    _table(
        flat,
        ["time", "version_id", *[f"{p}_km" for p in pairs], "total_km", "jump"],
        title="Front line length (km, geodesic)",
    )
    notes = [f"{r['time']}: {r['jump']['note']}" for r in rows if r.get("jump")]
    if notes:
        console.print("[bold]Jumps over 5%[/] (what changed on the map):")
        for n in notes:
            console.print(f"  * {n}")
    if regions:
        names = list(rows[0].get("by_region", {})) if rows else []
        rr = [{"time": r["time"], **{n: sum(r["by_region"][n].values()) for n in names}} for r in rows]
        _table(rr, ["time", *names], title="Front per region (km)")
