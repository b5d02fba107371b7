"""Bi-temporal reads: the map valid at a time as the source had published it by another.

A version is published, pulled, revised (a different polygon, a later
``updatedAt``) and pulled again through the local replay server; then
``--as-known-at`` before the revision answers with the first content (its
area worked out here with shapely + pyproj), after it with the revised one,
and ``diff-revisions`` gives the km² difference.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from pyproj import Geod
from replay_server import api_object, feature, iso, pull_then_revise
from shapely.geometry import box

V = 1_740_000_000  # the version's id and valid time (2025-02-19)
FIRST = box(31.0, 49.5, 31.2, 49.6)  # a ru-held box deep inside Ukraine, on land clear of rivers
REVISED = box(31.0, 49.4, 31.2, 49.6)  # the revision doubles it southwards
PUBLISHED, REVISED_AT = V + 600, V + 7200


def _km2(geom) -> float:
    """Geodesic area straight from pyproj (independent of frontline.geodesy)."""
    a, _ = Geod(ellps="WGS84").geometry_area_perimeter(geom)
    return abs(a) / 1e6


def _pull_then_revise(target) -> None:
    """Version V pulled into a new store at ``target`` (a file or a PostGIS URL), then its revision."""
    pull_then_revise(
        target,
        api_object(V, [feature(FIRST, "occupied")], updated=PUBLISHED),
        api_object(V, [feature(REVISED, "occupied")], updated=REVISED_AT),
    )


@pytest.fixture(scope="module")
def revised_store(tmp_path_factory, backend, request):
    """A store that pulled version V, then its revision, on each backend (a GeoPackage file, then PostGIS)."""
    if backend == "postgis":
        path = request.getfixturevalue("pg_cluster").new_database("known_at")
    else:
        path = tmp_path_factory.mktemp("known_at") / "live.gpkg"
    _pull_then_revise(path)
    return path


def _cli(path, *args) -> tuple[int, str, str]:
    from frontline.cli import main

    res = CliRunner().invoke(main, [*args, "--store", str(path)], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def _ru_km2(path, *known, convention="as_drawn") -> tuple[float, str]:
    """ru km² in Ukraine at V; as drawn: the source's own polygon, with no land/water border cut."""
    args = ["area", "--at", iso(V + 60), "--region", "ukraine", "--convention", convention, "--json", *known]
    code, out, err = _cli(path, *args)
    assert code == 0, err
    return json.loads(out)[0]["ru_km2"], err


def test_as_known_at_before_and_after_the_revision(revised_store):
    before, err = _ru_km2(revised_store, "--as-known-at", iso(REVISED_AT - 60))
    assert before == pytest.approx(_km2(FIRST), rel=1e-3)
    assert "revision 1" in err and "revised_at" in err and "now holds revision 2" in err
    clipped, _ = _ru_km2(revised_store, "--as-known-at", iso(REVISED_AT - 60), convention="clipped")
    assert clipped == pytest.approx(_km2(FIRST), rel=1e-3)  # the first box lies on land only
    after, err = _ru_km2(revised_store, "--as-known-at", iso(REVISED_AT + 60))
    assert after == pytest.approx(_km2(REVISED), rel=1e-3)
    assert "revision 2" in err and "current one" in err
    now, _ = _ru_km2(revised_store)
    assert now == pytest.approx(_km2(REVISED), rel=1e-3)


def test_as_known_at_before_first_publication_has_no_version(revised_store):
    code, _, err = _cli(revised_store, "show", "--as-known-at", iso(PUBLISHED - 60))
    assert code == 1 and "known at" in err


def test_state_at_known_at_reads_the_first_revisions_features(revised_store):
    from frontline.state import state_at
    from frontline.store import open_store

    st = open_store(revised_store, readonly=True)
    try:
        cmap, feats = state_at(st, V + 60, known_at=REVISED_AT - 1)
        assert cmap.version_id == str(V) and len(feats) == 1
        assert feats[0].geometry.equals(FIRST)
        _, feats = state_at(st, V + 60)
        assert feats[0].geometry.equals(REVISED)
    finally:
        st.close()


def test_list_shows_revisions(revised_store):
    code, out, _ = _cli(revised_store, "list", "--revisions", "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["revisions"] == 2
    assert [r["revised_at"] for r in row["revision_list"]] == [iso(PUBLISHED)[:19] + "Z", iso(REVISED_AT)[:19] + "Z"]
    assert all(r["features"] == 1 for r in row["revision_list"])


def test_diff_revisions_gives_the_km2_difference(revised_store):
    code, out, err = _cli(revised_store, "diff-revisions", str(V), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert (d["from"]["revision"], d["to"]["revision"]) == (1, 2)
    # the partition is cut to land: the gain is the clipped areas' difference, near the boxes' one
    first, _ = _ru_km2(revised_store, "--as-known-at", iso(REVISED_AT - 60), convention="clipped")
    now, _ = _ru_km2(revised_store, convention="clipped")
    gained = d["totals"]["ru"]["gained_km2"]
    assert gained == pytest.approx(now - first, abs=0.01)
    assert gained == pytest.approx(_km2(REVISED) - _km2(FIRST), rel=0.05)
    assert d["totals"]["ru"]["lost_km2"] == pytest.approx(0.0, abs=1e-6)
    assert d["totals"]["ua"]["lost_km2"] == pytest.approx(gained, abs=0.01)
    assert len(d["features_added"]) == 1 and len(d["features_removed"]) == 1
    code, out, _ = _cli(revised_store, "diff-revisions", str(V), "--from-rev", "2", "--to-rev", "1", "--json")
    assert json.loads(out)["totals"]["ru"]["lost_km2"] == pytest.approx(gained, abs=0.01)
    code, _, err = _cli(revised_store, "diff-revisions", str(V), "--to-rev", "5")
    assert code == 1 and "no revision 5" in err


def test_a_past_revisions_result_does_not_replace_the_current_one(revised_store, new_store_url, backend):
    import shutil

    from frontline.store import open_store
    from frontline.store.known_at import known_at_view
    from frontline.store.results import ResultRow, put_results

    # a store of its own (this test writes results): a copy of the file, or the same pulls into a new database
    if backend == "gpkg":
        shutil.copy(revised_store, new_store_url)
    else:
        _pull_then_revise(new_store_url)
    st = open_store(new_store_url)
    try:
        view = known_at_view(st, REVISED_AT - 1)
        (v,) = view.versions()
        assert v.revision == 1 and v.known_at is not None and v.pk < 0
        row = dict(what="probe", params_key="", source=v.source, version_id=v.version_id, rule="1", body=b"{}")
        assert put_results(view, [ResultRow(revision=1, **row)]) == 0
        assert put_results(view, [ResultRow(revision=2, **row)]) == 1
    finally:
        st.close()
