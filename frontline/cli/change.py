"""``frontline change``: ground gained and lost between two times, or a change log per period."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InputError, NoVersionError
from ._common import STORE_OPT, _print_json, _table, choice_option, console, from_option, guard, path_option, to_option
from .sources import footer


@click.command()
@STORE_OPT
@from_option("First time: the map as it stood then.", required=True)
@to_option("Second time: the map as it stood then.", required=True)
@choice_option(
    "--every",
    choices=["day", "week", "month"],
    default=None,
    help="A change log: one row per period (its last version against the previous period's last).",
)
@click.option("--top", default=10, show_default=True, help="Largest advances listed.")
@path_option("--geojson", "geojson_path", help="Write the gained/lost polygons (side, change, region, km2) as GeoJSON.")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
@guard(store="read")
def change(st, start, end, every, top, geojson_path, source, as_json):
    """Ground gained and lost by each side and the grey zone between two times (geodesic km²).

    Compares the map as it stood at --from with the map at --to: a bare
    --from date is the start of that day and a bare --to date its end, so
    --from 2025-03-01 --to 2025-03-01 is the change during that day. A range
    with no version in it is an error (exit 1) naming the nearest versions.

    \b
    frontline change --from 2025-03-01 --to 2025-03-15
    frontline change --from 2025-03-01 --to 2025-03-31 --every day --json
    frontline change --from 2025-03-01 --to 2025-03-15 --geojson change.geojson
    """
    from ..analysis.change import change_between, change_log
    from ..model import iso
    from ..state import range_note, report_note, versions_between

    if every:
        if geojson_path:
            raise InputError("--geojson writes one comparison; leave out --every.")
        versions_between(st, start, end, source)  # an empty range is an error naming the nearest versions
        note = range_note(st, end, source)
        if note is not None:
            report_note(f"--to {note.fact}; the log stops there.")
        rows = change_log(st, start, end, every=every, source=source)
    else:
        rep = change_between(st, start, end, source=source, from_first=True)  # as every series starts
    if every:
        if not rows:
            raise NoVersionError(
                f"Nothing to compare from {iso(start)} to {iso(end)}: the range holds the store's "
                "first version and nothing before it."
            )
        if as_json:
            _print_json(rows)
            return
        whats = list(st.sides) + ["contested"]
        cols = ["period", "time"] + [f"{k}_{s}_km2" for s in whats for k in ("gained", "lost", "net")]
        _table(rows, cols, title=f"Change per {every} (km², geodesic)")
        footer(st, source)
        return
    if rep.before.pk == rep.after.pk:
        v = rep.before
        raise NoVersionError(
            f"No version from {iso(start)} to {iso(end)}: both are version {v.version_id} of "
            f"{iso(v.valid_time)}, so nothing changed (widen the range)."
        )
    adv = rep.advances(top)
    if geojson_path:
        Path(geojson_path).write_text(json.dumps(rep.to_geojson(), ensure_ascii=False))
    if as_json:
        _print_json(rep.to_dict() | {"advances": [{k: v for k, v in a.items() if k != "geometry"} for a in adv]})
        return
    d = rep.to_dict()
    _table(
        [r for r in d["rows"] if r["km2"] > 0],
        ["side", "change", "region", "km2"],
        title=f"Change {d['from']['time']} → {d['to']['time']} (km², geodesic)",
    )
    _table(
        [{"side": s} | t for s, t in d["totals"].items()], ["side", "gained_km2", "lost_km2", "net_km2"], title="Totals"
    )
    _table(
        [a | {"lon": f"{a['lon']:.4f}", "lat": f"{a['lat']:.4f}"} for a in adv],
        ["rank", "side", "km2", "lon", "lat"],
        title=f"Largest advances (top {top})",
    )
    footer(st, source)
    if geojson_path:
        console.print(f"Wrote {geojson_path}")
