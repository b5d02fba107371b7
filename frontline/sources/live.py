"""Incremental pull from a DeepState-shaped API: only new or revised versions."""

from __future__ import annotations

from ..ingest import Importer
from ..store import GeoPackageStore
from . import deepstate


def _epoch(value) -> int | None:
    dt = deepstate._to_dt(value)
    return int(dt.timestamp()) if dt else None


def pending(store: GeoPackageStore, entries: list[dict], source: str = deepstate.SOURCE) -> list[dict]:
    """Listing entries that are new to the store or revised since (later ``updatedAt``)."""
    have = {v.version_id: v for v in store.versions(source)} if source in store.sources() else {}
    out = []
    for e in entries:
        v = have.get(str(int(e["id"])))
        if v is None:
            out.append(e)
            continue
        upd = _epoch(e.get("updatedAt"))
        if upd is not None and (v.revised_at is None or upd > v.revised_at) and upd > (v.published_at or 0) + 1:
            out.append(e)
    return out


def pull(store: GeoPackageStore, base_url: str = deepstate.DEFAULT_BASE_URL, *, progress: bool = True,
         importer: Importer | None = None, **http):
    """Fetch and import what the feed has that the store lacks; each version atomically.

    Returns the import report; a version that cannot be fetched is reported
    and the others go on.
    """
    imp = importer or Importer(store)
    entries = deepstate.list_versions(base_url, **http)
    todo = pending(store, entries)

    def gen():
        for e in todo:
            try:
                yield deepstate.for_import(deepstate.fetch_version(base_url, e, **http))
            except deepstate.FetchError as exc:
                yield f"{base_url} version {e.get('id')}", str(exc)

    return imp.run(gen(), total=len(todo), progress=progress, label="Pulling")
