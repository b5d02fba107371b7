"""``frontline export``: export the state at a time (held per side, contested, points) as GeoJSON, GeoPackage, KML or CSV."""

from __future__ import annotations

import click

from ._common import STORE_OPT, _fail, _open, at_option, console


@click.command()
@STORE_OPT
@click.argument("output", type=click.Path(dir_okay=False))
@at_option("Time of the state; default the latest version.")
@click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg", "kml", "csv"]), default=None,
              help="Default: from the file suffix.")
@click.option("--source", default=None)
def export(store_path, output, at, fmt, source):
    """Export the state at a time (held per side, contested, points) as GeoJSON, GeoPackage, KML or CSV."""
    from ..export import export_state

    st = _open(store_path, readonly=True)
    try:
        info = export_state(st, output, at=at, fmt=fmt, source=source)
    except ValueError as exc:
        _fail(exc)
    console.print(f"Wrote {info['features']} features of version {info['version_id']} ({info['time']}) "
                  f"to {info['file']} ({info['format']}).")
