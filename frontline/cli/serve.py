"""``frontline serve``: serve the interactive map and the HTTP API from a store (read-only by default)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import InputError
from ._common import STORE_OPT, _open, console, guard, path_option

TOKEN_ENV = "FRONTLINE_WRITE_TOKEN"


def read_token(token_file: str | None) -> str | None:
    """The write token from ``token_file`` (first line, stripped), else ``$FRONTLINE_WRITE_TOKEN``, else None.

    Raises
    ------
    InputError
        When the file cannot be read or holds a token shorter than 16 characters.
    """
    if token_file:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{token_file}: cannot read the token file ({exc.strerror or exc}).") from None
        token = (text.strip().splitlines() or [""])[0].strip()
        where = token_file
    else:
        token = (os.environ.get(TOKEN_ENV) or "").strip()
        where = f"${TOKEN_ENV}"
        if not token:
            return None
    if len(token) < 16:
        raise InputError(f"{where}: the write token must be at least 16 characters (got {len(token)}).")
    return token


@click.command()
@STORE_OPT
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (localhost by default).")
@click.option("--port", default=8765, show_default=True)
@path_option(
    "--token-file", help=f"File holding the token that enables writes (else ${TOKEN_ENV}; neither: read-only)."
)
@path_option(
    "--gazetteer", exists=True, help="Settlements to use when the store holds none (GeoNames dump or point layer)."
)
@path_option("--roads", exists=True, help="Roads to use when the store holds none (any line layer).")
@click.option(
    "--max-age",
    "max_age",
    envvar="FRONTLINE_MAX_AGE",
    default=None,
    metavar="DURATION",
    help="Warn (warnings in the JSON, X-Frontline-Warning header) when a time asked is more than this "
    "after the version that answers it (7d, 36h, off; default $FRONTLINE_MAX_AGE or 7d).",
)
@click.option("--strict", is_flag=True, help="Answer 404 instead of warning about a time the store cannot vouch for.")
@guard()
def serve(store_path, host, port, token_file, gazetteer, roads, max_age, strict):
    """Serve the interactive map and the HTTP API from a store (read-only unless a token is given)."""
    from ..store import default_store_path
    from ..web.app import serve as serve_app

    path = store_path or default_store_path()
    _open(path, readonly=True).close()
    from ..times import parse_duration

    token = read_token(token_file)
    max_age_s = parse_duration(max_age) if max_age is not None else "default"
    mode = "writes need the token (Authorization: Bearer …)" if token else "read-only"
    console.print(f"Serving {path} on http://{host}:{port}/ ({mode}) — API description at /openapi.json")
    options = dict(write_token=token, gazetteer=gazetteer, roads=roads, max_age_s=max_age_s, strict=strict)
    serve_app(path, host=host, port=port, warm=True, **options)
