"""``frontline init``: create an empty store with the theatre's borders (Ukraine, Russia's border regions)."""

from __future__ import annotations

import click

from ._common import STORE_OPT, console, guard


@click.command()
@STORE_OPT
@guard()
def init(store_path):
    """Create an empty store with the theatre's borders (Ukraine, Russia's border regions)."""
    from ..store import init_store

    st = init_store(store_path)
    console.print(
        f"Created store [bold]{st.path}[/] (sides: {', '.join(st.sides)}). "
        f"Open it in QGIS: layers features, feature_history (temporal), regions."
    )
