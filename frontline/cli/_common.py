"""Shared plumbing of the command modules: console, options, tables, errors.

Every command takes ``--store`` (or ``$FRONTLINE_STORE``; default
``./frontline.gpkg``). Commands that print tables take ``--json`` (and some
``--csv``) for scripts; their field names are stable.
"""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

# Wide tables when piped (the demo's table is read in CI logs and terminals alike).
console = Console() if sys.stdout.isatty() else Console(width=160)

STORE_OPT = click.option("--store", "store_path", envvar="FRONTLINE_STORE", type=click.Path(dir_okay=False),
                         default=None, help="Store file (default: $FRONTLINE_STORE or ./frontline.gpkg).")


def _open(store_path, readonly=False):
    from ..store import open_store

    try:
        return open_store(store_path, readonly=readonly)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def _fail(exc: Exception):
    raise click.ClickException(str(exc)) from None


def _print_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _table(rows: list[dict], columns: list[str], title: str | None = None, caption: str | None = None) -> None:
    t = Table(title=title, caption=caption, header_style="bold")
    for c in columns:
        t.add_column(c, justify="right" if c.endswith(("km2", "share", "net")) or "km2" in c else "left")
    for r in rows:
        t.add_row(*["" if r.get(c) is None else (f"{r[c]:,.1f}" if isinstance(r.get(c), float) else str(r[c]))
                    for c in columns])
    console.print(t)
