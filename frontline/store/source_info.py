"""Who made each map a store holds: title, licence, attribution, URL, when it was added.

Kept in the store's ``meta`` table, one key per source: ``source:<name>`` → a JSON object with ``title``,
``licence``, ``attribution``, ``url`` and ``added_at`` (ISO UTC). No table of its own, so both backends (and a
store made by an older version) hold it alike. Importers and pulls record a default for the sources they know
(:func:`record_default`, which never overwrites what a user set); ``frontline sources set`` edits an entry.

A source with no entry still answers :func:`source_info`: DeepState's known terms for ``deepstate``, empty
fields otherwise. Whatever shows a source's data shows :func:`attribution_line` with it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..errors import InputError
from ..model import iso
from ._sql import sql_of

__all__ = ["FIELDS", "KNOWN", "source_info", "list_sources", "set_source_info", "record_default", "attribution_line"]

FIELDS = ("title", "licence", "attribution", "url")
"""The fields a user sets (``added_at`` is written once, when the entry is made)."""

KNOWN: dict[str, dict[str, str]] = {
    "deepstate": {
        "title": "DeepStateMAP",
        "licence": "DeepState's terms: not to be redistributed without DeepState's permission; analyses may cite it.",
        "attribution": "© DeepStateMAP (deepstatemap.live)",
        "url": "https://deepstatemap.live",
    },
}
"""Defaults of sources Frontline knows by name, used when the store holds no entry for them."""

_PREFIX = "source:"


def _key(name: str) -> str:
    if not name or not name.strip():
        raise InputError("A source needs a name.")
    return _PREFIX + name.strip()


def _stored(store, name: str) -> dict[str, Any] | None:
    raw = store.get_meta(_key(name))
    if not raw:
        return None
    try:
        obj = json.loads(raw)
    except ValueError:
        # A hand-edited meta row must not break every read command that shows attribution.
        return {"attribution": str(raw)}
    return obj if isinstance(obj, dict) else {"attribution": str(obj)}


def source_info(store, name: str) -> dict[str, Any]:
    """The entry of source ``name``: ``name``, the :data:`FIELDS`, ``added_at`` and ``recorded`` (False: a default).

    Parameters
    ----------
    store
        An open store.
    name
        The source's name.
    """
    stored = _stored(store, name)
    base = {f: "" for f in FIELDS} | KNOWN.get(name, {})
    out: dict[str, Any] = {"name": name} | base | {"added_at": None}
    if stored is not None:
        out.update({k: stored[k] for k in (*FIELDS, "added_at") if stored.get(k) is not None})
    out["recorded"] = stored is not None
    return out


def _meta_names(store) -> list[str]:
    rows = sql_of(store).fetchall("SELECT key FROM meta WHERE key LIKE ?", (_PREFIX + "%",))
    return [r[0][len(_PREFIX) :] for r in rows]


def list_sources(store) -> list[dict[str, Any]]:
    """Every source the store holds versions of, or has an entry for, with its entry and version count.

    Each dict is :func:`source_info`'s with ``versions`` (how many versions are stored), ``first`` and ``last``
    (ISO valid times, None without versions).
    """
    held = list(store.sources())
    names = held + sorted(set(_meta_names(store)) - set(held))
    out = []
    for n in names:
        vs = store.versions(n) if n in held else []
        row = source_info(store, n) | {"versions": len(vs), "first": None, "last": None}
        if vs:
            row["first"], row["last"] = iso(vs[0].valid_time), iso(vs[-1].valid_time)
        out.append(row)
    return out


def _write(store, name: str, entry: dict[str, Any]) -> None:
    with store.transaction():
        sql_of(store).upsert("meta", ("key", "value"), ("key",), [(_key(name), json.dumps(entry, ensure_ascii=False))])


def set_source_info(store, name: str, **fields: str | None) -> dict[str, Any]:
    """Set some fields of source ``name``'s entry (None: left as it is), made when missing; the entry after.

    Raises
    ------
    InputError
        When a field is not one of :data:`FIELDS`.
    """
    bad = sorted(set(fields) - set(FIELDS))
    if bad:
        raise InputError(f"Unknown source field(s) {', '.join(bad)}; known: {', '.join(FIELDS)}.")
    current = source_info(store, name)
    entry = {f: current[f] for f in FIELDS} | {k: v for k, v in fields.items() if v is not None}
    entry["added_at"] = current["added_at"] or iso(time.time())
    _write(store, name, entry)
    return source_info(store, name)


def record_default(store, name: str, **fields: str | None) -> bool:
    """Record an entry for ``name`` unless it has one (an import's default; a user's text is never replaced).

    ``fields`` fill what :data:`KNOWN` does not say. True when an entry was written.
    """
    if _stored(store, name) is not None:
        return False
    set_source_info(store, name, **{k: v for k, v in fields.items() if v})
    return True


def attribution_line(store, names: str | list[str] | None) -> str:
    """One line naming each source's attribution (and licence when it restricts), for a table's footer.

    Parameters
    ----------
    store
        An open store.
    names
        A source name, several, or None for the store's default source.
    """
    if names is None or isinstance(names, str):
        names = [store.default_source(names)]
    parts = []
    for n in names:
        info = source_info(store, n)
        text = info["attribution"] or info["title"] or "no attribution recorded (frontline sources set)"
        parts.append(f"{n}: {text}" + (f"; licence: {info['licence']}" if info["licence"] else ""))
    return "Data: " + " | ".join(parts)
