"""``frontline area``: geodesic km² held by each side and contested, at a time or over time."""

from __future__ import annotations

import csv
import io

import click

from ._common import STORE_OPT, _fail, _open, _print_json, _table


@click.command()
@STORE_OPT
@click.option("--at", default=None, help="One time (ISO or epoch seconds).")
@click.option("--from", "start", default=None, help="Start of a time series.")
@click.option("--to", "end", default=None, help="End of a time series.")
@click.option("--every", type=click.Choice(["day", "week", "month"]), default=None,
              help="One row per period (last version of each), with net change.")
@click.option("--side", default=None, help="Only this side's columns (ua, ru, contested).")
@click.option("--region", default="ukraine", show_default=True,
              help="theatre | ukraine | russia | home:<side> | outside:<side> | a polygon file.")
@click.option("--convention", type=click.Choice(["clipped", "as_drawn"]), default="clipped", show_default=True,
              help="clipped: partition cut to the region; as_drawn: the source's own polygons, as it measures.")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
def area(store_path, at, start, end, every, side, region, convention, source, as_json, as_csv):
    """Geodesic km² held by each side and contested, at a time or over time.

    \b
    frontline area --at 2025-03-10 --region russia --json
    frontline area --from 2024-08-06 --to 2025-03-31 --every week --region russia
    frontline area --region my_oblast.gpkg --convention as_drawn --csv
    """
    from ..analysis.area import area_at, area_series

    st = _open(store_path, readonly=True)
    try:
        if at and (start or end):
            raise ValueError("Give either --at or --from/--to, not both.")
        if at:
            rows = [area_at(st, at, region=region, convention=convention, source=source)]
        else:
            rows = area_series(st, region=region, convention=convention, start=start, end=end, every=every,
                               source=source, progress=not (as_json or as_csv))
    except ValueError as exc:
        _fail(exc)
    sides = list(st.sides) + ["contested"]
    if side:
        if side not in sides:
            _fail(ValueError(f"Unknown side {side!r}; choose from {', '.join(sides)}."))
        keep = [side]
    else:
        keep = sides
    cols = ["time", "version_id"] + (["period"] if every else []) + [f"{s}_km2" for s in keep]
    if every:
        cols += [f"net_{s}_km2" for s in keep]
    if not at:
        cols += [f"share_of_peak_{s}" for s in keep]
    if as_json:
        _print_json([{k: r.get(k) for k in ["region", "convention", *cols] if k in r} for r in rows])
    elif as_csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["region", "convention", *cols], extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
    else:
        from ..normalise import CONVENTIONS

        _table(rows, cols, title=f"Area in {rows[0]['region'] if rows else region} (km², geodesic)",
               caption=f"convention: {convention} — {CONVENTIONS[convention]}")
