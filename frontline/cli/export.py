"""``frontline export``: the state at a time (held per side, contested, points) as GeoJSON, GPKG, KML or CSV."""

from __future__ import annotations

import click

from ._common import STORE_OPT, at_option, choice_option, console, guard


@click.command()
@STORE_OPT
@click.argument("output", type=click.Path(dir_okay=False))
@at_option("Time of the state; default the latest version.")
@choice_option(
    "--format", "fmt", choices=["geojson", "gpkg", "kml", "csv"], default=None, help="Default: from the file suffix."
)
@click.option("--source", default=None)
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists (never a device or a folder).")
@guard(store="read")
def export(st, output, at, fmt, source, overwrite):
    """Export the state at a time (held per side, contested, points) as GeoJSON, GeoPackage, KML or CSV."""
    from ..export import export_state

    info = export_state(st, output, at=at, fmt=fmt, source=source, overwrite=overwrite)
    console.print(
        f"Wrote {info['features']} features of version {info['version_id']} ({info['time']}) "
        f"to {info['file']} ({info['format']})."
    )
