"""``frontline contact-line``: the line where the sides' ground meets, with its length over time."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import STORE_OPT, _fail, _open, _print_json, _table, console


@click.command("contact-line")
@STORE_OPT
@click.option("--at", default=None, help="One time (ISO or epoch seconds); the latest version when nothing is given.")
@click.option("--from", "start", default=None, help="Start of a series.")
@click.option("--to", "end", default=None, help="End of a series.")
@click.option("--every", type=click.Choice(["day", "week", "month"]), default=None, help="One row per period.")
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False), default=None,
              help="Write the line (one feature per pair) as GeoJSON (with --at).")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
def contact_line_cmd(store_path, at, start, end, every, geojson_path, source, as_json):
    """Contact line per pair of neighbours (ua|ru, ua|contested, ru|contested), geodesic km.

    The undisputed state border (both sides holding their own home) and the
    theatre's edge are not front; see frontline.analysis.contact_line.

    \b
    frontline contact-line --at 2025-03-10 --geojson front.geojson
    frontline contact-line --from 2024-08-01 --to 2025-03-31 --every week --json
    """
    from ..analysis.contact_line import contact_line, contact_line_series
    from ..state import resolve_version, version_control

    st = _open(store_path, readonly=True)
    try:
        if at and (start or end or every):
            raise ValueError("Give either --at or --from/--to/--every, not both.")
        if start or end or every:
            if geojson_path:
                raise ValueError("--geojson writes one time's line: use --at.")
            rows = contact_line_series(st, start, end, every=every, source=source)
            if as_json:
                _print_json(rows)
                return
            pairs = list(rows[0]["length_km"]) if rows else []
            flat = [{"time": r["time"], "version_id": r["version_id"], **{f"{p}_km": r["length_km"][p] for p in pairs},
                     "total_km": r["total_km"]} for r in rows]
            _table(flat, ["time", "version_id", *[f"{p}_km" for p in pairs], "total_km"],
                   title="Contact line length (km, geodesic)")
            return
        v = resolve_version(st, at, source)
        cl = contact_line(version_control(st, v))
    except ValueError as exc:
        _fail(exc)
    from ..model import iso

    cl.source, cl.version_id, cl.valid_time = v.source, v.version_id, iso(v.valid_time)
    if geojson_path:
        Path(geojson_path).write_text(json.dumps(cl.to_geojson(), ensure_ascii=False))
    if as_json:
        _print_json(cl.to_dict())
        return
    rows = [{"pair": p, "length_km": cl.length_km[p]} for p in cl.pairs] + [{"pair": "total", "length_km": cl.total_km}]
    _table(rows, ["pair", "length_km"], title=f"Contact line at {cl.valid_time} (version {v.version_id})",
           caption="state border where both sides hold their own home is not front")
    if geojson_path:
        console.print(f"Wrote {geojson_path}")
