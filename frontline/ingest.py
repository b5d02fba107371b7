"""The one import path: source snapshots → classified features → store.

Every source (DeepState archive, API, GIS layers, the demo) ends here. Each
version is written in its own transaction: features new to the store, their
partition pieces, the validity intervals, and the version's areas. A bad file
is reported by name and skipped; a crash leaves every committed version whole
and re-running the import adds only what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import StoreError
from .model import ROLE_UNCLASSIFIED, Snapshot
from .normalise import FeaturePieces, PartitionBuilder, feature_pieces
from .store import GeoPackageStore, ImportReport, theatre_of
from .store.gpkg import feature_rows

#: The importer's input type; it lives in the model (sources make it, this module consumes it).
SnapshotIn = Snapshot


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
        self._seen_fid: dict[str, int] = {}  # highest feature id read into _keys, per source
        self._pieces: dict[int, FeaturePieces] = {}
        self.report = ImportReport()

    def _known(self, source: str) -> dict[bytes, int]:
        """Stored features of a source by content hash, brought up to date (call inside the transaction).

        Another writer (a second import, ``watch``) may have stored features since the last look: they are
        reused, never inserted twice. Features only ever get higher ids, so the catch-up reads the new rows only.
        """
        known = self._keys.get(source)
        if known is None:
            known = self._keys[source] = self.store.feature_keys(source)
        else:
            known.update(self.store.feature_keys(source, after_fid=self._seen_fid.get(source, 0)))
        self._seen_fid[source] = max(known.values(), default=0)
        return known

    def add(self, snap: SnapshotIn) -> str:
        """Import one version; returns 'added', 'revised', 'unchanged' or 'failed'."""
        store, rep = self.store, self.report
        existing = store.version(snap.source, snap.version_id)
        if existing is not None and existing.content_hash == snap.content_hash:
            rep.unchanged += 1
            return "unchanged"
        store.begin()
        new_keys: dict[bytes, int] = {}
        try:
            known = self._known(snap.source)
            parse = snap.parse
            assert parse is not None, "a snapshot to import reads its features"
            members: list[int] = []
            seen_here: set[bytes] = set()
            for i, h in enumerate(snap.hashes):
                if h in seen_here:
                    continue  # the same feature twice in one file counts once
                seen_here.add(h)
                fid = known.get(h) or new_keys.get(h)
                if fid is None:
                    rf, note = parse(i)
                    if rf is None:
                        rep.skipped_features += 1
                        rep.problems.append((snap.origin, f"feature {i}: skipped, {note}"))
                        continue
                    fp = feature_pieces(rf, self.theatre)
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
        return self._count(status)

    def _count(self, status: str) -> str:
        rep = self.report
        if status == "added":
            rep.added += 1
        elif status == "revised":
            rep.revised += 1
        else:
            rep.unchanged += 1
        return status

    def _write_prepared(self, res: dict, pending: dict) -> str:
        """Parent: write one prepared version in its own transaction."""
        store, rep = self.store, self.report
        meta = res["meta"]
        snap = SnapshotIn(**meta, hashes=[], parse=None)
        existing = store.version(snap.source, snap.version_id)
        if res.get("unchanged") or (existing is not None and existing.content_hash == snap.content_hash):
            rep.unchanged += 1
            return "unchanged"
        pending.update(res["payloads"])
        for msg in res["skipped"]:
            rep.skipped_features += 1
            rep.problems.append((snap.origin, msg))
        store.begin()
        new_keys: dict[bytes, int] = {}
        try:
            known = self._known(snap.source)
            members = []
            for h in res["members"]:
                fid = known.get(h) or new_keys.get(h)
                if fid is None and h not in pending:  # a worker saw it stored: look it up, whoever stored it
                    fid = store.feature_fid(snap.source, h)
                    if fid is None:
                        raise StoreError(f"feature {h.hex()} of {snap.origin} is neither stored nor prepared")
                if fid is None:
                    frow, prows, note, i, repaired, unclassified = pending[h]
                    if note:
                        rep.problems.append((snap.origin, f"feature {i}: {note}"))
                    rep.repaired += int(repaired)
                    rep.unclassified += int(unclassified)
                    fid = store.insert_feature_rows(snap.source, h, frow, prows)
                    new_keys[h] = fid
                    rep.new_features += 1
                members.append(fid)
            status = store.put_version(snap, members, res["areas"])
            store.commit()
        except Exception:
            store.rollback()
            raise
        known.update(new_keys)
        for h in res["members"]:  # prepared here or stored by another writer meanwhile: no longer needed
            pending.pop(h, None)
        return self._count(status)

    def run(
        self, items: Iterable, total: int | None = None, progress: bool = True, label: str = "Importing"
    ) -> ImportReport:
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


# ---------------------------------------------------------------- parallel import of files
#
# Reading a snapshot (JSON parse, feature hashes), cutting new features into pieces and
# building each version's partition and areas is CPU work independent of the store, so
# worker processes do it; the parent only writes, one transaction per version, in input
# order. Each worker remembers the features it has parsed, and sends a feature's payload
# with the first version it sees it in; results are consumed in submission order, so the
# parent always has the payload before any version that needs it.

_W: dict = {}


def _init_worker(store_path: str) -> None:
    from .store import open_store

    st = open_store(store_path, readonly=True)
    th = theatre_of(st)
    _W.clear()
    _W.update(store=st, theatre=th, builder=PartitionBuilder(th), known={}, pieces={}, parsed={})


def _prepare(job: tuple[str, object, str]) -> dict:
    """Worker: one file → everything the parent needs to write its version."""
    name, data, reader = job
    snap = _reader(reader)(name, data)
    if isinstance(snap, tuple):
        return {"failed": snap}
    st, th = _W["store"], _W["theatre"]
    meta = {
        k: getattr(snap, k)
        for k in ("source", "version_id", "valid_time", "published_at", "revised_at", "origin", "content_hash")
    }
    old = st.version(snap.source, snap.version_id)
    if old is not None and old.content_hash == snap.content_hash:
        return {"meta": meta, "unchanged": True}
    known = _W["known"].get(snap.source)
    if known is None:
        known = _W["known"][snap.source] = st.feature_keys(snap.source)
    pieces, parsed = _W["pieces"], _W["parsed"]
    members, payloads, skipped, need = [], {}, [], []
    seen: set[bytes] = set()
    for i, h in enumerate(snap.hashes):
        if h in seen:
            continue
        seen.add(h)
        if h in pieces:
            members.append(h)
        elif h in known:
            members.append(h)
            need.append(h)
        else:
            rf, note = snap.parse(i)
            if rf is None:
                skipped.append(f"feature {i}: skipped, {note}")
                continue
            fp = feature_pieces(rf, th)
            pieces[h] = fp
            parsed[h] = True
            # Rows ready to insert: the writer only executes them (serialising here keeps the parent free).
            frow, prows = feature_rows(rf, fp)
            payloads[h] = (
                frow,
                prows,
                "; ".join(x for x in (note, fp.note) if x),
                i,
                bool(rf.repaired),
                rf.role == ROLE_UNCLASSIFIED,
            )
            members.append(h)
    if need:
        by_fid = st.pieces([known[h] for h in need])
        for h in need:
            pieces[h] = by_fid[known[h]]
    vc = _W["builder"].build(pieces[h] for h in members)
    return {"meta": meta, "members": members, "payloads": payloads, "skipped": skipped, "areas": vc.areas()}


_READERS = {"deepstate": "frontline.sources.deepstate"}  # reader name -> module with read_member


def _reader(name: str):
    """``read_member(name, content)`` of a source: a snapshot, or ``(origin, reason)`` for a bad file."""
    import importlib

    return importlib.import_module(_READERS[name]).read_member


def import_files(
    store: GeoPackageStore,
    members: Iterable[tuple[str, object]],
    *,
    reader: str = "deepstate",
    workers: int | None = None,
    total: int | None = None,
    progress: bool = True,
    label: str = "Importing",
) -> ImportReport:
    """Import snapshot files with worker processes doing the parsing and geometry.

    Parameters
    ----------
    store
        An open, writable store.
    members
        ``(name, bytes or Exception)`` pairs, e.g. from
        :func:`frontline.sources._archive.iter_members`, in time order for best caching.
    reader
        How to read a file (``"deepstate"``).
    workers
        Worker processes; default: the CPU count (at most 4). With 1, the
        sequential :class:`Importer` does the work in this process.
    total
        Number of files, for the progress bar.
    progress
        Show a progress bar.

    Returns
    -------
    ImportReport
        The same report, with the same problems, as a sequential import.
    """
    import multiprocessing as mp
    import os
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    from ._progress import progress_bar

    if reader not in _READERS:
        raise ValueError(f"Unknown reader {reader!r}; choose from {', '.join(_READERS)}.")
    workers = workers or min(os.cpu_count() or 1, 4)
    imp = Importer(store)
    if workers <= 1:
        read = _reader(reader)
        return imp.run((read(name, data) for name, data in members), total=total, progress=progress, label=label)

    rep = imp.report
    _ = imp.theatre.tiled  # tile the homes once, before forking: workers inherit them
    pending: dict[bytes, tuple] = {}
    ctx = mp.get_context("fork")
    jobs = ((name, data, reader) for name, data in members)
    with (
        ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(str(store.path),)) as pool,
        progress_bar(total, label, enabled=progress) as advance,
    ):
        inflight: deque = deque()

        def results():
            # Bounded look-ahead: the archive is read as it is consumed, never all at once.
            for job in jobs:
                inflight.append(pool.submit(_prepare, job))
                if len(inflight) >= 3 * workers:
                    yield inflight.popleft().result()
            while inflight:
                yield inflight.popleft().result()

        for res in results():
            advance()
            if "failed" in res:
                rep.failed += 1
                rep.problems.append(res["failed"])
                continue
            try:
                imp._write_prepared(res, pending)
            except ValueError as exc:
                rep.failed += 1
                rep.problems.append((res["meta"]["origin"], str(exc)))
    return rep
