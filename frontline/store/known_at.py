"""A store read as the source had published it by a time: each version in the revision current then.

DeepState publishes late and edits past versions; the store keeps every
revision (table ``revisions``, with its members). :class:`KnownAtView` wraps
an open store so that every question analysis code asks of versions is
answered as known at a time ``T``: only versions first known by ``T``, each
in its latest revision known by ``T``.

A revision is known from its **known time**: the source's ``revised_at``
when it gives one, else (first revision) the version's ``published_at``,
else the store's ``imported_at`` (when this store first read it).

A past revision (not the one the store now holds) is read from its own
members: its features, partition and areas (computed from its pieces and
cached per version and revision) — never from the current revision's spans
or stored areas.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace
from typing import Any

from ..model import iso
from .base import StoredFeature, VersionInfo

_AREAS: dict[tuple[str, str, str, int], dict[tuple[str, str, str], float]] = {}
_BUILDERS: dict[int, Any] = {}


def known_time(rev: dict, version: VersionInfo | None = None) -> tuple[int, str]:
    """``(epoch seconds, which field)`` from which a revision row counts as known."""
    if rev.get("revised_at") is not None:
        return int(rev["revised_at"]), "revised_at"
    if rev.get("revision") == 1 and version is not None and version.published_at is not None:
        return int(version.published_at), "published_at"
    return int(rev["imported_at"]), "imported_at"


def _at_revision(v: VersionInfo, rev: dict, known_at: int) -> VersionInfo:
    """``v`` as in revision row ``rev``, under a key no stored version's ``pk`` takes (caches keep apart)."""
    return replace(
        v,
        pk=-(v.pk * 10_000 + rev["revision"]),
        revised_at=rev["revised_at"],
        revision=rev["revision"],
        content_hash=rev["content_hash"],
        origin=rev["origin"],
        n_features=rev["n_features"],
        known_at=known_at,
    )


class KnownAtView:
    """An open store answering as known at ``known_at`` (epoch seconds); everything else passes through.

    Parameters
    ----------
    store
        An open store.
    known_at
        The time of knowledge, epoch seconds.
    """

    def __init__(self, store: Any, known_at: int):
        self._store = store
        self.known_at = int(known_at)
        self._versions: dict[str, list[VersionInfo]] = {}
        self.basis: dict[tuple[str, str], tuple[int, str, int]] = {}  # (source, vid) → (known time, field, current)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def wrapped(self) -> Any:
        """The store read through this view."""
        return self._store

    # -- versions ---------------------------------------------------------------------------------
    def versions(self, source: str | None = None) -> list[VersionInfo]:
        source = self._store.default_source(source)
        if source not in self._versions:
            self._versions[source] = self._known(source)
        return list(self._versions[source])

    def _known(self, source: str) -> list[VersionInfo]:
        by_vid: dict[str, list[dict]] = {}
        for r in self._store.revision_rows(source):
            by_vid.setdefault(r["version_id"], []).append(r)
        out = []
        for v in self._store.versions(source):
            # a store without revision rows (older schema) knows each version from its own times
            revs = by_vid.get(v.version_id) or [
                {"revision": v.revision, "revised_at": v.revised_at, "imported_at": v.valid_time}
            ]
            known = [(r, *known_time(r, v)) for r in revs]
            known = [k for k in known if k[1] <= self.known_at]
            if not known:
                continue
            r, t, field = max(known, key=lambda k: k[0]["revision"])
            self.basis[(source, v.version_id)] = (t, field, v.revision)
            if r["revision"] == v.revision:
                out.append(v)
                continue
            out.append(_at_revision(v, r, self.known_at))
        return out

    def version_at(self, t: int, source: str | None = None) -> VersionInfo | None:
        vs = self.versions(source)
        i = bisect_right([v.valid_time for v in vs], int(t))
        return vs[i - 1] if i else None

    def version(self, source: str, version_id: str) -> VersionInfo | None:
        return next((v for v in self.versions(source) if v.version_id == str(version_id)), None)

    def is_current(self, source: str, version_id: str, revision: int) -> bool:
        """Whether ``revision`` is the one the store holds now (results of others are not stored)."""
        v = self._store.version(source, version_id)
        return v is not None and v.revision == int(revision)

    def note(self, v: VersionInfo) -> str:
        """One line saying which revision answers and from which time it counts as known."""
        t, field, current = self.basis.get((v.source, v.version_id), (self.known_at, "imported_at", v.revision))
        now = "the store's current one" if v.revision == current else f"the store now holds revision {current}"
        return (
            f"as known at {iso(self.known_at)}: {v.version_id} in revision {v.revision} "
            f"(known from {field} {iso(t)}; {now})."
        )

    # -- members, features, areas -----------------------------------------------------------------
    def member_fids(self, version: VersionInfo) -> list[int]:
        return self._store.member_fids(version)

    def features_at(self, version: VersionInfo, kinds=None) -> list[StoredFeature]:
        return self._store.features_at(version, kinds)

    def changed_features(self, a: VersionInfo, b: VersionInfo) -> tuple[list[int], list[int]]:
        sa, sb = set(self.member_fids(a)), set(self.member_fids(b))
        return sorted(sa - sb), sorted(sb - sa)

    def version_members(self, source: str | None = None):
        known = {v.version_id: v for v in self.versions(source)}
        for v, members in self._store.version_members(source):
            k = known.get(v.version_id)
            if k is not None:
                yield k, (members if k.known_at is None else sorted(self.member_fids(k)))

    def area_rows(self, source: str, region: str, convention: str) -> list[tuple[int, str, float]]:
        rows = list(self._store.area_rows(source, region, convention))
        for v in self.versions(source):
            if v.known_at is not None:
                for (r, side, c), km2 in self.areas(v).items():
                    if r == region and c == convention:
                        rows.append((v.pk, side, km2))
        return rows

    def areas(self, v: VersionInfo) -> dict[tuple[str, str, str], float]:
        """A revision's areas keyed as stored (region, side, convention), from its own pieces; cached."""
        key = (v.source, v.version_id, v.content_hash, v.revision)
        if key not in _AREAS:
            _AREAS[key] = revision_control(self, v).areas()
        return _AREAS[key]


def revision_version(store: Any, version: VersionInfo, revision: int) -> VersionInfo:
    """``version`` in one of its stored revisions, read from that revision's own members.

    Raises
    ------
    InputError
        When the store holds no such revision of the version.
    """
    from ..errors import InputError

    rows = {r["revision"]: r for r in store.revision_rows(version.source) if r["version_id"] == version.version_id}
    r = rows.get(int(revision))
    if r is None:
        have = ", ".join(str(k) for k in sorted(rows)) or "none"
        raise InputError(f"version {version.version_id} has no revision {revision} (it has {have}).", field="revision")
    return _at_revision(version, r, known_time(r, version)[0])


def revision_control(store: Any, v: VersionInfo):
    """The partition of one version in the revision ``v`` names, from that revision's members."""
    from ..normalise import PartitionBuilder
    from . import theatre_of

    pieces = store.pieces(store.member_fids(v))
    th = theatre_of(store)
    return _BUILDERS.setdefault(id(th), PartitionBuilder(th)).build(pieces.values())


def known_at_view(store: Any, known_at: int | None) -> Any:
    """``store`` as known at ``known_at`` (the store itself when None; a view is not wrapped twice)."""
    if known_at is None:
        return store
    if isinstance(store, KnownAtView):
        store = store.wrapped
    return KnownAtView(store, known_at)
