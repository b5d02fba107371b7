"""The one import path: source snapshots → classified features → store.

Every source (DeepState archive, API, GIS layers, the demo) ends here. Each
version is written in its own transaction: features new to the store, their
partition pieces, the validity intervals, and the version's areas. A bad file
is reported by name and skipped; a crash leaves every committed version whole
and re-running the import adds only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .model import ROLE_UNCLASSIFIED, RawFeature
from .normalise import FeaturePieces, PartitionBuilder, feature_pieces
from .store import GeoPackageStore, ImportReport, theatre_of


@dataclass
class SnapshotIn:
    """A version ready for import: metadata, feature hashes and a way to parse each.

    ``parse(i)`` returns ``(RawFeature | None, note)`` for feature ``i``; it is
    only called for features the store has not seen, which is what makes a
    re-import of 1,359 versions cheap.
    """

    source: str
    version_id: str
    valid_time: object
    published_at: object
    revised_at: object
    origin: str
    content_hash: str
    hashes: list[bytes]
    parse: Callable[[int], tuple[RawFeature | None, str | None]]


class Importer:
    """Imports snapshots into one store, keeping caches across versions.

    Parameters
    ----------
    store
        An open, writable store.
    """

    def __init__(self, store: GeoPackageStore):
        self.store = store
        self.theatre = theatre_of(store)
        self.builder = PartitionBuilder(self.theatre)
        self._keys: dict[str, dict[bytes, int]] = {}
        self._pieces: dict[int, FeaturePieces] = {}
        self.report = ImportReport()

    def _known(self, source: str) -> dict[bytes, int]:
        if source not in self._keys:
            self._keys[source] = self.store.feature_keys(source)
        return self._keys[source]

    def add(self, snap: SnapshotIn) -> str:
        """Import one version; returns 'added', 'revised', 'unchanged' or 'failed'."""
        store, rep = self.store, self.report
        existing = store.version(snap.source, snap.version_id)
        if existing is not None and existing.content_hash == snap.content_hash:
            rep.unchanged += 1
            return "unchanged"
        known = self._known(snap.source)
        store.begin()
        new_keys: dict[bytes, int] = {}
        try:
            members: list[int] = []
            seen_here: set[bytes] = set()
            for i, h in enumerate(snap.hashes):
                if h in seen_here:
                    continue  # the same feature twice in one file counts once
                seen_here.add(h)
                fid = known.get(h) or new_keys.get(h)
                if fid is None:
                    rf, note = snap.parse(i)
                    if rf is None:
                        rep.skipped_features += 1
                        rep.problems.append((snap.origin, f"feature {i}: skipped, {note}"))
                        continue
                    fp = feature_pieces(rf, self.theatre, h)
                    if note or fp.note:
                        rep.problems.append((snap.origin, f"feature {i}: {'; '.join(x for x in (note, fp.note) if x)}"))
                    rep.repaired += int(rf.repaired)
                    rep.unclassified += int(rf.role == ROLE_UNCLASSIFIED)
                    fid = store.insert_feature(snap.source, h, rf, fp)
                    new_keys[h] = fid
                    self._pieces[fid] = fp
                    rep.new_features += 1
                members.append(fid)
            missing = [f for f in members if f not in self._pieces]
            if missing:
                self._pieces.update(store.pieces(missing))
            vc = self.builder.build(self._pieces[f] for f in members)
            status = store.put_version(snap, members, vc.areas())
            store.commit()
        except Exception:
            store.rollback()
            for fid in new_keys.values():
                self._pieces.pop(fid, None)
            raise
        known.update(new_keys)
        if status == "added":
            rep.added += 1
        elif status == "revised":
            rep.revised += 1
        else:
            rep.unchanged += 1
        return status

    def run(self, items: Iterable, total: int | None = None, progress: bool = True,
            label: str = "Importing") -> ImportReport:
        """Import snapshots or ``(origin, reason)`` failures from a reader.

        Parameters
        ----------
        items
            What a source reader yields: :class:`SnapshotIn` objects, or
            ``(origin, reason)`` pairs for input that could not be read.
        total
            Number of items, for the progress bar.
        progress
            Show a progress bar (on stderr).
        """
        from ._progress import progress_bar

        with progress_bar(total, label, enabled=progress) as advance:
            for item in items:
                if isinstance(item, tuple):
                    origin, reason = item
                    self.report.failed += 1
                    self.report.problems.append((origin, reason))
                else:
                    try:
                        self.add(item)
                    except ValueError as exc:
                        self.report.failed += 1
                        self.report.problems.append((item.origin, str(exc)))
                advance()
        return self.report
