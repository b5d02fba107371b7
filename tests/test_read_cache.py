"""A store handle's read cache (:class:`frontline.store.base.ReadCache`) never answers with an old state.

A reader keeps its handle open (``serve``) while a writer imports through another; each backend
keeps versions, feature rows and pieces per handle, and must drop them when the store changes. The
expected values are read from the scenario files themselves (json), not from the store.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from frontline.demo import write_scenario
from frontline.ingest import Importer
from frontline.sources import deepstate
from frontline.state import state_at
from frontline.store import init_store, open_store


def _import(st, files: list[Path]) -> None:
    rep = Importer(st).run(
        (deepstate.snapshot_from_bytes(p.read_bytes(), p.name, p.stem) for p in files), progress=False
    )
    assert rep.failed == 0, rep.problems


def test_reader_sees_a_version_written_by_another_handle(new_store_url, tmp_path):
    files = sorted(write_scenario(tmp_path / "scenario", weeks=4), key=lambda p: int(p.stem))
    writer = init_store(new_store_url)
    _import(writer, files[:3])
    reader = open_store(new_store_url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the scenario's dates are long past: staleness notes
            assert [v.version_id for v in reader.versions()] == [p.stem for p in files[:3]]
            before, _ = state_at(reader)  # fills the reader's cache with the third version
            assert before.version_id == files[2].stem
            _import(writer, files[3:])  # another handle commits a fourth version
            assert [v.version_id for v in reader.versions()] == [p.stem for p in files]
            cmap, feats = state_at(reader)
        assert cmap.version_id == files[3].stem
        raw = json.loads(files[3].read_bytes())
        assert len(feats) == len(raw["map"]["features"])  # every scenario feature is a distinct one, kept
        # Asked again, the same answer (from the cache now), in a caller's own objects.
        again = state_at(reader)[1]
        assert [f.fid for f in again] == [f.fid for f in feats]
        again[0].props["changed"] = True
        assert "changed" not in state_at(reader)[1][0].props
    finally:
        reader.close()
        writer.close()
