"""``frontline list``: stored versions with their times, revisions and feature counts."""

from __future__ import annotations

import click

from ..model import iso
from ._common import STORE_OPT, _print_json, _table, console, guard
from .sources import footer


def _revision_rows(st, source: str) -> dict[str, list[dict]]:
    """``version id → its revisions`` (revised at, imported at, content hash, features), oldest first."""
    out: dict[str, list[dict]] = {}
    for r in st.revision_rows(source):
        out.setdefault(r["version_id"], []).append(
            {
                "revision": r["revision"],
                "revised_at": iso(r["revised_at"]),
                "imported_at": iso(r["imported_at"]),
                "content_hash": r["content_hash"],
                "features": r["n_features"],
            }
        )
    return out


@click.command("list")
@STORE_OPT
@click.option("--source", default=None, help="Source (default: the only or 'deepstate').")
@click.option("--revisions", "show_revisions", is_flag=True, help="One line per revision of each version.")
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def list_(st, source, show_revisions, as_json):
    """List stored versions with their times, revisions and feature counts.

    ``revisions`` counts the contents the store has seen of each version
    (DeepState edits past versions); --revisions lists them: when the source
    revised it, when this store imported it, its content hash and features.
    """
    vs = st.versions(source)
    revs = _revision_rows(st, vs[0].source) if vs else {}
    rows = [
        {
            "version_id": v.version_id,
            "time": iso(v.valid_time),
            "published": iso(v.published_at),
            "revised": iso(v.revised_at),
            "revision": v.revision,
            "revisions": len(revs.get(v.version_id, ())) or 1,
            "features": v.n_features,
        }
        for v in vs
    ]
    if show_revisions:
        for row in rows:
            row["revision_list"] = revs.get(row["version_id"], [])
    if as_json:
        _print_json(rows)
        return
    title = f"{len(rows)} versions of {vs[0].source if vs else source}"
    if not show_revisions:
        _table(rows, ["version_id", "time", "revised", "revision", "revisions", "features"], title=title)
        footer(st, vs[0].source if vs else source)
        return
    console.print(f"[bold]{title}[/]")
    lines = [{"version_id": row["version_id"], "time": row["time"], **r} for row in rows for r in row["revision_list"]]
    _table(lines, ["version_id", "time", "revision", "revised_at", "imported_at", "content_hash", "features"])
    footer(st, vs[0].source if vs else source)
