"""The one Store interface: the GeoPackage backend implements all of it; two handles write as two writers."""

from __future__ import annotations

import json
import threading

import pytest
from replay_server import api_object, feature
from shapely.geometry import box

T0 = 1736193600


def _snap(i: int, extra: list | None = None):
    from frontline.sources import deepstate

    feats = [feature(box(31.0, 49.5, 31.01 * (i + 1), 49.6), "occupied"), *(extra or [])]
    o = api_object(T0 + 3600 * i, feats)
    return deepstate.snapshot_from_bytes(json.dumps(o).encode(), f"v{i}", str(o["id"]))


@pytest.fixture
def path(tmp_path):
    from frontline.store import init_store

    p = tmp_path / "s.gpkg"
    init_store(p).close()
    return p


def test_backend_implements_the_whole_interface(path):
    from frontline.store import GeoPackageStore, Store, open_store

    assert not GeoPackageStore.__abstractmethods__
    st = open_store(path)
    try:
        assert isinstance(st, Store)
        # bookkeeping of a fresh store reads as empty, never as an error
        assert st.alert_log() == [] and st.pull_checked("deepstate") == {} and st.list_claims() == []
        assert st.reference_info("settlements") is None and st.load_roads() is None and st.results_count() == 0
        with st.transaction() as db:
            db.execute("INSERT INTO meta VALUES ('probe', '1')")
        assert st.get_meta("probe") == "1"
        with pytest.raises(RuntimeError), st.transaction() as db:
            db.execute("INSERT INTO meta VALUES ('probe2', '1')")
            raise RuntimeError("abandon")
        assert st.get_meta("probe2") is None
    finally:
        st.close()


def test_two_handles_share_features_instead_of_clashing(path):
    """Each importer caches the stored features; one stored by the other meanwhile is reused, not a crash."""
    from frontline.ingest import Importer
    from frontline.store import open_store

    shared = [feature(box(33.0, 48.0, 33.2, 48.2), "occupied")]
    a, b = open_store(path), open_store(path)
    try:
        ia, ib = Importer(a), Importer(b)
        assert ib.add(_snap(1)) == "added"  # b's cache is loaded now, before the shared box is stored
        assert ia.add(_snap(0, shared)) == "added"
        assert ib.add(_snap(2, shared)) == "added"  # the shared box is a's: b reuses it
        assert ia.add(_snap(3, shared)) == "added"
        assert ia.add(_snap(2, shared)) == "unchanged"
        n, distinct = a.db.execute("SELECT COUNT(*), COUNT(DISTINCT fkey) FROM features").fetchone()
        assert n == distinct == 5
    finally:
        a.close()
        b.close()


def test_insert_of_a_stored_feature_returns_the_stored_one(path):
    from frontline.normalise import feature_pieces
    from frontline.store import open_store, theatre_of
    from frontline.store.gpkg import feature_rows

    st = open_store(path)
    try:
        snap = _snap(0)
        rf, _ = snap.parse(0)
        frow, prows = feature_rows(rf, feature_pieces(rf, theatre_of(st)))
        with st.transaction():
            first = st.insert_feature_rows("deepstate", snap.hashes[0], frow, prows)
        with st.transaction():
            again = st.insert_feature_rows("deepstate", snap.hashes[0], frow, prows)
        assert again == first
        assert st.db.execute("SELECT COUNT(*) FROM pieces WHERE feature_fid=?", (first,)).fetchone()[0] == len(prows)
        assert st.feature_keys("deepstate", after_fid=first) == {}
        assert st.feature_keys("deepstate") == {bytes(snap.hashes[0]): first}
    finally:
        st.close()


def test_snapshot_reads_one_state_while_a_writer_commits(path):
    from frontline.ingest import Importer
    from frontline.store import open_store

    w, r = open_store(path), open_store(path, readonly=True)
    try:
        imp = Importer(w)
        imp.add(_snap(0))
        with r.snapshot():
            before = len(r.versions())
            t = threading.Thread(target=imp.add, args=(_snap(1),))
            t.start()
            t.join(60)
            assert len(r.versions()) == before == 1  # the commit is not seen inside the snapshot
        assert len(r.versions()) == 2
    finally:
        w.close()
        r.close()
