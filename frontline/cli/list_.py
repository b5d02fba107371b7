"""``frontline list``: stored versions with their times, revisions and feature counts."""

from __future__ import annotations

import click

from ..model import iso
from ._common import STORE_OPT, _print_json, _table, guard


@click.command("list")
@STORE_OPT
@click.option("--source", default=None, help="Source (default: the only or 'deepstate').")
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def list_(st, source, as_json):
    """List stored versions with their times, revisions and feature counts."""
    vs = st.versions(source)
    rows = [
        {
            "version_id": v.version_id,
            "time": iso(v.valid_time),
            "published": iso(v.published_at),
            "revised": iso(v.revised_at),
            "revision": v.revision,
            "features": v.n_features,
        }
        for v in vs
    ]
    if as_json:
        _print_json(rows)
    else:
        _table(
            rows,
            ["version_id", "time", "revised", "revision", "features"],
            title=f"{len(rows)} versions of {vs[0].source if vs else source}",
        )
