"""``frontline serve``: serve the interactive map and the HTTP API (read-only) from a store."""

from __future__ import annotations

import click

from ._common import STORE_OPT, _open, console


@click.command()
@STORE_OPT
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (localhost by default).")
@click.option("--port", default=8765, show_default=True)
def serve(store_path, host, port):
    """Serve the interactive map and the HTTP API (read-only) from a store."""
    from ..store import default_store_path
    from ..web.app import serve as serve_app

    path = store_path or default_store_path()
    _open(path, readonly=True).close()
    console.print(f"Serving {path} on http://{host}:{port}/ — API description at /openapi.json")
    serve_app(path, host=host, port=port)
