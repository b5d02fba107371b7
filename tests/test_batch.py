"""The batch engine (``frontline.analysis.batch``): ``frontline recompute`` on a local pool and on Dask.

Expected: the bodies stored by a run on a loopback Dask cluster are the same bytes as those of the local pool.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from frontline.analysis import batch
from frontline.analysis import materialise as m
from frontline.errors import InputError
from frontline.store import open_store


def _copy(src: Path, dst: Path) -> Path:
    a = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    b = sqlite3.connect(dst)
    a.backup(b)
    a.close()
    b.close()
    return dst


def _bodies(path: Path) -> dict[tuple, tuple]:
    db = sqlite3.connect(path)
    rows = db.execute("SELECT what, params_key, source, version_id, revision, rule, codec, body FROM analysis_results")
    out = {r[:4]: r[4:] for r in rows}
    db.close()
    return out


def _decoded(rows: dict[tuple, tuple]) -> dict[tuple, bytes]:
    from frontline.store.results import decode_body

    return {k: decode_body(codec, body) for k, (_, _, codec, body) in rows.items()}


def test_local_pool_and_dask_cluster_store_the_same_bytes(demo_store, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = _copy(Path(demo_store.path), tmp_path / "local.gpkg")
    dask = _copy(Path(demo_store.path), tmp_path / "dask.gpkg")
    st = open_store(local)
    rep_local = m.materialise(st, what=["contact-line", "corridors"], workers=2, progress=False)
    st.close()
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster:
        from frontline.cli import main

        r = CliRunner().invoke(
            main,
            ["recompute", "--store", str(dask), "--what", "contact-line,corridors", "--json"],
            env={batch.SCHEDULER_ENV: cluster.scheduler_address},
        )
    assert r.exit_code == 0, r.output
    assert rep_local.failed == [] and rep_local.count("computed") > 0
    a, b = _bodies(local), _bodies(dask)
    assert a.keys() == b.keys()
    # one row per computed result, and beside each contact line and corridors result its compact series row
    main = {k for k in a if not k[0].endswith(".series")}
    assert len(main) == rep_local.count("computed")
    assert set(a) - main == {(f"{k[0]}.series", *k[1:]) for k in main}
    assert a == b  # revision, rule, codec and the stored bytes themselves
    assert _decoded(a) == _decoded(b)
    assert '"workers": 2' in r.output


def test_unreachable_scheduler_is_a_clear_error(demo_store, tmp_path):
    pytest.importorskip("distributed")
    from frontline.cli import main

    p = _copy(Path(demo_store.path), tmp_path / "x.gpkg")
    r = CliRunner().invoke(main, ["recompute", "--store", str(p), "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    assert r.exit_code == 1 and "cannot be reached" in r.output and "Traceback" not in r.output


def test_missing_distributed_is_a_clear_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_dask(name, *args, **kw):
        if name == "distributed":
            raise ImportError("no distributed")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(InputError, match=r"frontline\[cluster\]"):
        batch.open_backend(1, "tcp://127.0.0.1:9")


def test_scheduler_from_environment(monkeypatch):
    monkeypatch.delenv(batch.SCHEDULER_ENV, raising=False)
    assert batch.scheduler_address(None) is None
    monkeypatch.setenv(batch.SCHEDULER_ENV, " tcp://h:1 ")
    assert batch.scheduler_address(None) == "tcp://h:1"
    assert batch.scheduler_address("tcp://g:2") == "tcp://g:2"
