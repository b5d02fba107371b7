"""``claims check --now T`` judges each claim with the map as known at T.

A version is published and pulled, then revised through the local replay
server (as in ``tests/test_known_at.py``) so that it shows a claimed polygon
it did not show at first: checked ``--now`` before the revision the claim
keeps its earlier verdict (pending: nothing shows it yet), ``--now`` after it
the revision confirms it.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from replay_server import api_object, feature, iso, pull_then_revise
from shapely.geometry import box, mapping

V = 1_740_000_000  # the version's id and valid time (2025-02-19)
FIRST = box(31.0, 49.5, 31.2, 49.6)  # a ru-held box deep inside Ukraine
REVISED = box(31.0, 49.4, 31.2, 49.6)  # the revision doubles it southwards
CLAIMED = box(31.0, 49.4, 31.2, 49.5)  # the southern half: only the revision shows it ru's
PUBLISHED, REVISED_AT = V + 600, V + 7200
CLAIM_TIME = V + 1800  # after the first publication, before the revision


@pytest.fixture(scope="module")
def revised_store(tmp_path_factory, backend, request):
    """A store that pulled version V, then its revision (on each backend); and a file with one polygon claim."""
    folder = tmp_path_factory.mktemp("claims_known_at")
    path = folder / "live.gpkg"
    if backend == "postgis":
        path = request.getfixturevalue("pg_cluster").new_database("claims_known_at")
    pull_then_revise(
        path,
        api_object(V, [feature(FIRST, "occupied")], updated=PUBLISHED),
        api_object(V, [feature(REVISED, "occupied")], updated=REVISED_AT),
    )
    claim = {"claimant": "c", "time": iso(CLAIM_TIME), "side": "ru", "change": "taken", "geometry": mapping(CLAIMED)}
    (folder / "claims.jsonl").write_text(json.dumps(claim) + "\n")
    return path, folder / "claims.jsonl"


def _status(revised_store, *now) -> dict:
    from frontline.cli import main

    path, claims = revised_store
    args = ["claims", "check", str(claims), "--json", "--store", str(path), *now]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    (row,) = json.loads(res.stdout)["claims"]
    return row


def test_now_before_the_revision_keeps_the_earlier_verdict(revised_store):
    row = _status(revised_store, "--now", iso(REVISED_AT - 60))
    assert row["status"] == "pending", row


def test_now_after_the_revision_gets_the_new_verdict(revised_store):
    row = _status(revised_store, "--now", iso(REVISED_AT + 60))
    assert row["status"] == "confirmed", row
    assert _status(revised_store)["status"] == "confirmed"  # no --now: the store as it is


def test_verify_claims_now_reads_as_known(revised_store):
    from frontline.analysis.claims import verify_claims
    from frontline.sources.claims import read_claims
    from frontline.store import open_store

    path, claims = revised_store
    st = open_store(path, readonly=True)
    try:
        cl = read_claims(claims, sides=st.sides).claims
        before = verify_claims(st, cl, now=REVISED_AT - 60)
        after = verify_claims(st, cl, now=REVISED_AT + 60)
    finally:
        st.close()
    assert [r["status"] for r in before] == ["pending"]
    assert [r["status"] for r in after] == ["confirmed"]
