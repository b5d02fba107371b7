"""``frontline export``: the state at a time (held per side, contested, points) as a GIS file."""

from __future__ import annotations

import click

from ._common import STORE_OPT, at_option, choice_option, console, guard

FORMAT_HELP = (
    "geojson | gpkg | fgb (FlatGeobuf) | parquet (GeoParquet) | kml (a style per side, the version's time span) "
    "| csv (geometry as WKT). Default: from the file suffix."
)


@click.command()
@STORE_OPT
@click.argument("output", type=click.Path(dir_okay=False))
@at_option("Time of the state; default the latest version.")
@choice_option(
    "--format", "fmt", choices=["geojson", "gpkg", "fgb", "parquet", "kml", "csv"], default=None, help=FORMAT_HELP
)
@click.option(
    "--bbox", default=None, metavar="W,S,E,N", help="Clip to this lon/lat box; area_km2 is then what lies inside."
)
@click.option("--crs", default=None, metavar="CRS", help="Reproject (EPSG:3857, EPSG:32636, …); areas stay geodesic.")
@click.option("--source", default=None)
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists (never a device or a folder).")
@guard(store="read")
def export(st, output, at, fmt, bbox, crs, source, overwrite):
    """Export the state at a time (held per side, contested, points) as a GIS file.

    GeoJSON, GeoPackage (points in a second layer), FlatGeobuf, GeoParquet,
    KML (Google Earth, ATAK: a style per side, the version's time span) or
    CSV (WKT). --bbox clips and measures again (geodesic km²); --crs
    reprojects.

    \b
    frontline export state.gpkg --at 2025-03-10
    frontline export kursk.fgb --at 2024-09-01 --bbox 34.5,50.8,36.2,51.8 --crs EPSG:32636
    frontline export state.kml --at 2025-03-10 --overwrite
    """
    from ..export import export_state

    info = export_state(st, output, at=at, fmt=fmt, source=source, bbox=bbox, crs=crs, overwrite=overwrite)
    console.print(
        f"Wrote {info['features']} features of version {info['version_id']} ({info['time']}) "
        f"to {info['file']} ({info['format']}, {info['crs']}"
        + (f", clipped to {','.join(f'{b:g}' for b in info['bbox'])}" if info["bbox"] else "")
        + ")."
    )
