"""``frontline demo``: generate a realistic scenario (a salient squeezed over weeks), import it and show its history."""

from __future__ import annotations

import click

from ._common import STORE_OPT, console, guard


@click.command()
@STORE_OPT
@click.option("--weeks", default=10, show_default=True, help="Weekly versions to generate.")
@click.option("--serve/--no-serve", default=False, help="Start the web map on the demo store afterwards.")
@click.option("--port", default=8765, show_default=True)
@guard()
def demo(store_path, weeks, serve, port):
    """Generate a realistic scenario (a salient squeezed over weeks), import it and show its history."""
    from ..demo import run_demo

    run_demo(store_path, weeks=weeks, console=console)
    if serve:
        from ..demo import default_demo_store
        from ..web.app import serve as serve_app

        console.print(f"Serving the map on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        serve_app(store_path or default_demo_store(), port=port)
