"""``frontline area``: geodesic km² held by each side and contested, at a time or over time."""

from __future__ import annotations

import csv
import io

import click

from ..errors import InputError
from ._common import STORE_OPT, _print_json, _table, choice_option, guard, one_time_or_series, series_options

REGION_HELP = (
    "theatre | ukraine | russia | home:<side> | outside:<side> | a polygon file (GeoJSON, GPKG, "
    "Shapefile, KML/KMZ; any CRS): the union of its polygons, labelled by the file name."
)
REGION_FIELD_HELP = "With a polygon file: one row per value of this attribute (e.g. per oblast), not the union."
REGION_LAYER_HELP = "With a polygon file of several polygon layers (GeoPackage): the layer to read."
CONVENTION_HELP = (
    "clipped: the partition of the land cut to the region; as_drawn: the source's own polygons "
    "(sea and border overshoot included), as it measures."
)


@click.command()
@STORE_OPT
@series_options(
    "One time (instead of a series).",
    "Start of a time series.",
    "End of a time series.",
    "One row per period (last version of each), with net change.",
)
@click.option("--side", default=None, help="Only this side's columns (ua, ru, contested).")
@click.option("--region", default="ukraine", show_default=True, help=REGION_HELP)
@click.option("--region-field", default=None, metavar="FIELD", help=REGION_FIELD_HELP)
@click.option("--region-layer", default=None, metavar="LAYER", help=REGION_LAYER_HELP)
@choice_option("--convention", choices=["clipped", "as_drawn"], default="clipped", help=CONVENTION_HELP)
@click.option("--source", default=None, help="Source name (default: the store's default source).")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for spreadsheets.")
@guard(store="read")
def area(st, at, start, end, every, side, region, region_field, region_layer, convention, source, as_json, as_csv):
    """Geodesic km² held by each side and contested, at a time or over time.

    A polygon file is measured from the stored pieces (the whole archive in
    seconds); its rows are labelled with the file name (and the feature's
    name, or the --region-field value).

    \b
    frontline area --at 2025-03-10 --region russia --json
    frontline area --from 2024-08-06 --to 2025-03-31 --every week --region russia
    frontline area --at 2025-03-10 --region box.geojson --convention as_drawn
    frontline area --region oblasts.gpkg --region-field name --every month --csv
    """
    from ..analysis.area import area_series, areas_at
    from ..state import versions_between

    sides = list(st.sides) + ["contested"]
    one_time_or_series(at, start, end, every)  # refuses --at with a series option
    if side and side not in sides:
        raise InputError(f"Unknown side {side!r}; choose from {', '.join(sides)}.")
    where = dict(
        region=region, convention=convention, source=source, region_field=region_field, region_layer=region_layer
    )
    if at:
        rows = areas_at(st, at, **where)
    else:
        versions_between(st, start, end, source)  # an empty range says so, naming the nearest versions
        rows = area_series(st, start=start, end=end, every=every, progress=not (as_json or as_csv), **where)
    keep = [side] if side else sides
    many = len({r["region"] for r in rows}) > 1
    cols = (["region"] if many else []) + ["time", "version_id"] + (["period"] if every else [])
    cols += [f"{s}_km2" for s in keep]
    if every:
        cols += [f"net_{s}_km2" for s in keep]
    if not at:
        cols += [f"share_of_peak_{s}" for s in keep]
    fields = ["region", "convention", *[c for c in cols if c != "region"]]
    if as_json:
        _print_json([{k: r.get(k) for k in fields if k in r} for r in rows])
    elif as_csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
    else:
        from pathlib import Path

        from ..analysis.area import convention_meaning

        where = f"{Path(region).name} by {region_field}" if many else (rows[0]["region"] if rows else region)
        shown = [
            {k: (f"{v:.1%}" if k.startswith("share_of_peak_") and v is not None else v) for k, v in r.items()}
            for r in rows
        ]  # a share as a percentage: 0.9646 would print as "1.0"
        _table(
            shown,
            cols,
            title=f"Area in {where} (km², geodesic)",
            caption=f"convention: {convention} — {convention_meaning(region, convention)}",
        )
