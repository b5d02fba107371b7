"""``frontline change``: ground gained and lost between two times, or a change log per period."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import STORE_OPT, _fail, _open, _print_json, _table, console


@click.command()
@STORE_OPT
@click.option("--from", "start", required=True, help="First time (ISO or epoch seconds).")
@click.option("--to", "end", required=True, help="Second time (ISO or epoch seconds).")
@click.option("--every", type=click.Choice(["day", "week", "month"]), default=None,
              help="A change log: one row per period (its last version against the previous period's last).")
@click.option("--top", default=10, show_default=True, help="Largest advances listed.")
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False), default=None,
              help="Write the gained/lost polygons (side, change, region, km2) as GeoJSON.")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
def change(store_path, start, end, every, top, geojson_path, source, as_json):
    """Ground gained and lost by each side and the grey zone between two times (geodesic km²).

    \b
    frontline change --from 2025-03-01 --to 2025-03-15
    frontline change --from 2025-03-01 --to 2025-03-31 --every day --json
    frontline change --from 2025-03-01 --to 2025-03-15 --geojson change.geojson
    """
    from ..analysis.change import change_between, change_log

    st = _open(store_path, readonly=geojson_path is None)
    try:
        if every:
            rows = change_log(st, start, end, every=every, source=source)
        else:
            rep = change_between(st, start, end, source=source)
    except ValueError as exc:
        _fail(exc)
    if every:
        if geojson_path:
            _fail(ValueError("--geojson writes one comparison; leave out --every."))
        if as_json:
            _print_json(rows)
            return
        whats = list(st.sides) + ["contested"]
        cols = ["period", "time"] + [f"{k}_{s}_km2" for s in whats for k in ("gained", "lost", "net")]
        _table(rows, cols, title=f"Change per {every} (km², geodesic)")
        return
    adv = rep.advances(top)
    if geojson_path:
        Path(geojson_path).write_text(json.dumps(rep.to_geojson(), ensure_ascii=False))
    if as_json:
        _print_json(rep.to_dict() | {"advances": [{k: v for k, v in a.items() if k != "geometry"} for a in adv]})
        return
    d = rep.to_dict()
    _table([r for r in d["rows"] if r["km2"] > 0], ["side", "change", "region", "km2"],
           title=f"Change {d['from']['time']} → {d['to']['time']} (km², geodesic)")
    _table([{"side": s} | t for s, t in d["totals"].items()], ["side", "gained_km2", "lost_km2", "net_km2"],
           title="Totals")
    _table([a | {"lon": f"{a['lon']:.4f}", "lat": f"{a['lat']:.4f}"} for a in adv], ["rank", "side", "km2", "lon", "lat"],
           title=f"Largest advances (top {top})")
    if geojson_path:
        console.print(f"Wrote {geojson_path}")
