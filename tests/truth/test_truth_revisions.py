"""Truth: does the real DeepState archive hold versions revised after first publication?

A revision is a version id seen with several contents, or a file carrying
the API's ``updatedAt`` (a revision time). Worked out independently with tar
and the standard library on the raw archive, then held against the imported
store's ``revisions`` table and ``--as-known-at`` on it.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter

from .conftest import run_cli


def _members(archive) -> list[str]:
    r = subprocess.run(["tar", "--zstd", "-tf", str(archive)], capture_output=True, text=True, check=True)
    return [n for n in r.stdout.split() if n.endswith(".geojson")]


def test_archive_revisions_and_as_known_at(archive, raw_dir, raw_ids, store, store_path):
    names = _members(archive)
    ids = Counter(int(n.rsplit("/", 1)[-1].split(".")[0]) for n in names)
    twice = sorted(i for i, n in ids.items() if n > 1)
    timed = [i for i in raw_ids if '"updatedAt"' in (raw_dir / f"{i}.geojson").read_text(encoding="utf-8")]
    revised_in_store = store.db.execute("SELECT version_id FROM revisions WHERE revision > 1").fetchall()
    if not twice and not timed:
        print(f"\nThe archive holds no revised version: {len(ids)} ids, each once, no updatedAt.")
        assert revised_in_store == []
        assert store.db.execute("SELECT COUNT(*) FROM revisions").fetchone()[0] == len(ids)
    else:  # pragma: no cover - not the case of the 2022-04..2025-08 archive
        print(f"\nRevised versions in the archive: {twice[:10]} (listed twice), {timed[:10]} (with updatedAt)")
        assert revised_in_store
    # with no revision time, a version counts as known from its first publication (its id's time)
    k = len(raw_ids) // 2
    r = run_cli("show", "--at", str(raw_ids[k]), "--as-known-at", str(raw_ids[k] - 1), "--json", store_path=store_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version_id"] == str(raw_ids[k - 1])
    assert "published_at" in r.stderr and "revision 1" in r.stderr
    r = run_cli("show", "--at", str(raw_ids[k]), "--as-known-at", str(raw_ids[k]), "--json", store_path=store_path)
    assert json.loads(r.stdout)["version_id"] == str(raw_ids[k])
