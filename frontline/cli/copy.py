"""``frontline copy SRC DEST``: everything one store keeps into another (GeoPackage ↔ PostGIS)."""

from __future__ import annotations

import click

from ..errors import StoreError
from ._common import _open, _print_json, _table, console, guard


@click.command("copy")
@click.argument("src", metavar="SRC")
@click.argument("dest", metavar="DEST")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@guard()
def copy_cmd(src: str, dest: str, as_json: bool, quiet: bool) -> None:
    """Copy a store into another: versions (every revision), features, spans, pieces, areas, the import log,
    claims ledger and events, settlements and roads, alert and pull state, stored results.

    \b
    SRC and DEST are GeoPackage files or postgresql:// URLs, in either direction:
      frontline copy ds.gpkg postgresql://me@db/frontline
      frontline copy postgresql://me@db/frontline backup.gpkg
    DEST is created (with SRC's borders) when it is not a store yet; into an existing store the copy
    merges. Re-runnable: a second run adds nothing, and a run interrupted midway leaves DEST whole
    (each version, and each table, is one transaction): running it again completes it.
    """
    from ..store import is_server_url
    from ..store.copy import copy_store, open_or_create

    if not is_server_url(src) and not is_server_url(dest):
        from pathlib import Path

        if Path(src).resolve() == Path(dest).resolve():
            raise StoreError("SRC and DEST are the same store.")
    if src == dest:
        raise StoreError("SRC and DEST are the same store.")
    source = _open(src, readonly=True)
    try:
        target, created = open_or_create(dest, source)
    except (FileNotFoundError, ValueError) as exc:
        raise StoreError(str(exc)) from None
    try:
        rep = copy_store(source, target, progress=not (quiet or as_json))
    finally:
        target.close()
    if as_json:
        _print_json({"created": created, **rep.as_dict()})
        return
    rows = [{"table": t, "in SRC": a, "copied": b, "already in DEST": c} for t, (a, b, c) in rep.rows.items()]
    what = "a new store" if created else "the store"
    _table(rows, ["table", "in SRC", "copied", "already in DEST"], title=f"Copied into {what} {_safe(dest)}")
    for note in rep.notes:
        console.print(note)
    if not rep.copied():
        console.print("Nothing to copy: DEST already holds everything SRC does.")


def _safe(url: str) -> str:
    from ..store.postgis import _safe as safe

    return safe(url)
