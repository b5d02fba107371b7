"""ArcGIS REST feature-service pull against a local ArcGIS-shaped server (``tests/arcgis_server.py``).

Bars: paging past ``maxRecordCount`` (the limit flag at the top or under GeoJSON ``properties``); an
incremental pull asks only for edits (the ``where`` the server received); a time-out, a 500, an ArcGIS error
object and truncated bodies are retried, and when they persist the error names the URL, no traceback, nothing
stored; the store ends with exactly the served layer states (areas per version against pyproj's Geod on the
served polygons, not Frontline's code).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest
import shapely
from arcgis_server import ArcGISServer
from click.testing import CliRunner
from pyproj import Geod
from replay_server import same_answer_server

from frontline._http import HttpOptions
from frontline.analysis.area import area_at
from frontline.errors import FetchError
from frontline.live_pull import pull_arcgis
from frontline.sources.arcgis import get_json, load_mapping
from frontline.store import GeoPackageStore, init_store

GEOD = Geod(ellps="WGS84")
T0 = int(datetime(2025, 3, 1, 6, 0, tzinfo=UTC).timestamp())
MAPPING = {
    "field": "status",
    "values": {"RU": {"role": "held", "side": "ru"}, "Grey": {"role": "contested"}},
    "default": "unclassified",
}
FAST = dict(timeout=0.5, retries=2, backoff=0.01)


def _box(i: int) -> shapely.Polygon:
    """Disjoint 0.3° × 0.2° boxes in central Ukraine, west to east."""
    return shapely.box(29.0 + 0.5 * i, 48.6, 29.3 + 0.5 * i, 48.8)


def _layer(n: int = 7) -> dict[int, tuple]:
    """``n`` features, every third one grey, edited an hour apart."""
    return {i + 1: (_box(i), "Grey" if i % 3 == 2 else "RU", T0 + 3600 * i) for i in range(n)}


def _km2(g) -> float:
    return sum(abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(p))[0]) for p in shapely.get_parts(g)) / 1e6


def _expected(layer: dict[int, tuple], theatre) -> tuple[float, float]:
    """(ru-held, contested) km² of a layer state on Ukraine's land."""
    ukr = theatre.homes["ua"]

    def part(status):
        return _km2(shapely.intersection(shapely.union_all([g for g, s, _ in layer.values() if s == status]), ukr))

    return part("RU"), part("Grey")


def _assert_versions(st, source: str, states: list[dict], theatre) -> None:
    """The store holds one version per served state, in order, with the served areas."""
    versions = st.versions(source)
    assert len(versions) == len(states)
    for v, layer in zip(versions, states):
        row = area_at(st, v.valid_time, region="ukraine", source=source)
        ru, grey = _expected(layer, theatre)
        assert row["ru_km2"] == pytest.approx(ru, rel=1e-4), v.version_id
        assert row["contested_km2"] == pytest.approx(grey, rel=1e-4), v.version_id
        assert v.n_features == len(layer)


@pytest.fixture()
def mapping():
    return dict(MAPPING)


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    """An empty store made once (making one reads the borders); each test copies it."""
    path = tmp_path_factory.mktemp("blank") / "blank.gpkg"
    init_store(path).close()
    return path


def _store(blank, path):
    shutil.copyfile(blank, path)
    return GeoPackageStore(path)


@pytest.mark.parametrize("in_properties", [False, True])
def test_pages_then_pulls_only_edits(tmp_path, blank, theatre, mapping, in_properties):
    layer = _layer(7)
    srv = ArcGISServer(layer, max_record_count=3)
    srv.limit_in_properties = in_properties
    st = _store(blank, tmp_path / "s.gpkg")
    try:
        r1 = pull_arcgis(st, srv.service_url, mapping, layer=0, **FAST)
        assert r1.ok, r1.error
        assert (r1.incremental, r1.fetched, r1.changed, r1.status) == (False, 7, 7, "added")
        assert r1.source == f"arcgis:{srv.service_url.split('/')[2]}/Control areas"
        pages = srv.log("query")
        assert [p["resultOffset"] for p in pages] == ["0", "3", "6"]
        assert all(p["resultRecordCount"] == "3" and p["outSR"] == "4326" and p["f"] == "geojson" for p in pages)
        assert {p["where"] for p in pages} == {"1=1"}
        assert st.versions(r1.source)[0].valid_time == T0 + 6 * 3600  # the newest edit date
        first = dict(layer)

        # edits: one redrawn and turned grey, one deleted, one added
        t1 = T0 + 86400
        srv.edit(2, shapely.box(30.0, 48.5, 30.4, 48.9), "Grey", t1)
        srv.delete(5)
        srv.edit(8, _box(8), "RU", t1 + 60)
        n_before = len(srv.requests)
        r2 = pull_arcgis(st, srv.service_url, mapping, layer=0, **FAST)
        assert r2.ok, r2.error
        asked = [p for k, p, _ in srv.requests[n_before:] if k == "query"]
        assert [p["where"] for p in asked] == ["EditDate > timestamp '2025-03-01 12:00:00'"]
        assert (r2.incremental, r2.fetched, r2.changed, r2.deleted) == (True, 2, 2, 1)
        assert st.versions(r2.source)[-1].valid_time == t1 + 60
        second = {o: srv.features[o] for o in srv.features}
        _assert_versions(st, r1.source, [first, second], theatre)

        # nothing edited since: one small query, no new version
        r3 = pull_arcgis(st, srv.service_url, mapping, layer=0, **FAST)
        assert r3.ok and r3.incremental and r3.version is None and r3.fetched == 0
        assert r3.wheres == ["EditDate > timestamp '2025-03-02 06:01:00'"]
        _assert_versions(st, r1.source, [first, second], theatre)
    finally:
        srv.close()
        st.close()


def test_incremental_store_equals_full_pull(tmp_path, blank, theatre, mapping):
    """A store built by incremental pulls and one made by a single full pull agree on the last state."""
    srv = ArcGISServer(_layer(5), max_record_count=2)
    a, b = _store(blank, tmp_path / "a.gpkg"), _store(blank, tmp_path / "b.gpkg")
    try:
        assert pull_arcgis(a, srv.service_url, mapping, layer=0, source="team", **FAST).ok
        srv.edit(3, _box(9), "RU", T0 + 90000)
        srv.delete(1)
        assert pull_arcgis(a, srv.service_url, mapping, layer=0, source="team", **FAST).incremental
        assert pull_arcgis(b, srv.service_url, mapping, layer=0, source="team", **FAST).ok
        va, vb = a.versions("team")[-1], b.versions("team")[-1]
        assert (va.version_id, va.content_hash) == (vb.version_id, vb.content_hash)
        _assert_versions(b, "team", [dict(srv.features)], theatre)
    finally:
        srv.close()
        a.close()
        b.close()


def test_layer_without_edit_dates(tmp_path, blank, theatre, mapping):
    """Every pull fetches the whole layer; only a changed state adds a version, timed by the clock."""
    layer = _layer(4)
    srv = ArcGISServer({**layer, 9: (None, "RU", T0)}, max_record_count=3)  # one without geometry: skipped
    srv.edit_fields = False
    st = _store(blank, tmp_path / "s.gpkg")
    clock = [T0 + 10]
    kw = dict(layer=0, source="team", now=lambda: clock[0], **FAST)
    try:
        r1 = pull_arcgis(st, srv.service_url, mapping, **kw)
        assert r1.ok and r1.status == "added" and r1.report.skipped_features == 1
        r2 = pull_arcgis(st, srv.service_url, mapping, **kw)
        assert r2.ok and not r2.incremental and r2.version is None and r2.fetched == 5
        assert {p["where"] for p in srv.log("query")} == {"1=1"} and srv.log("ids") == []
        srv.delete(1)
        clock[0] = T0 + 500
        r3 = pull_arcgis(st, srv.service_url, mapping, **kw)
        assert r3.ok and r3.deleted == 1 and r3.version == str(T0 + 500)
        later = {o: v for o, v in layer.items() if o != 1}
        _assert_versions(st, "team", [layer, later], theatre)
    finally:
        srv.close()
        st.close()


def test_faults_are_retried(tmp_path, blank, theatre, mapping):
    srv = ArcGISServer(_layer(7), max_record_count=3)
    srv.fail("info", "500")
    srv.fail("query", "timeout:2", "truncate", "arcgis_error", "truncate_nolen")
    st = _store(blank, tmp_path / "s.gpkg")
    try:
        # four faults on the first page's request, then the answer: five attempts, i.e. four retries
        r = pull_arcgis(st, srv.service_url, mapping, layer=0, **{**FAST, "retries": 4})
        assert r.ok, r.error
        assert r.status == "added" and r.fetched == 7
        assert [a for k, _, a in srv.requests if k == "info"] == ["500", "ok"]
        first_page = [a for k, p, a in srv.requests if k == "query" and p.get("resultOffset") == "0"]
        assert first_page[:5] == ["timeout:2", "truncate", "arcgis_error", "truncate_nolen", "ok"]
        _assert_versions(st, r.source, [dict(srv.features)], theatre)
    finally:
        srv.close()
        st.close()


def test_one_budget_for_network_and_body_faults(tmp_path, blank, mapping):
    """``retries`` bounds the requests whatever went wrong: a bad body is not retried on top of a network retry."""
    srv = ArcGISServer(_layer(7), max_record_count=3)
    srv.fail("query", "500", "truncate_nolen", "arcgis_error", "truncate")
    st = _store(blank, tmp_path / "s.gpkg")
    try:
        r = pull_arcgis(st, srv.service_url, mapping, layer=0, **FAST)  # retries=2: three requests
        assert not r.ok and "failed after 3 attempts" in r.error and "ArcGIS error 500" in r.error, r.error
        assert [a for k, _, a in srv.requests if k == "query"] == ["500", "truncate_nolen", "arcgis_error"]
    finally:
        srv.close()
        st.close()


def test_client_error_object_is_not_retried():
    """An ArcGIS error object with a client code in a 200 answer fails at once, naming the URL and the reason."""
    srv, hits = same_answer_server(b'{"error": {"code": 400, "message": "Invalid query parameters", "details": []}}')
    url = f"http://127.0.0.1:{srv.server_port}/FeatureServer/0/query?where=bad&f=json"
    try:
        with pytest.raises(FetchError) as err:
            get_json(url, HttpOptions(timeout=2, retries=3, backoff=0.01))
        assert str(err.value) == f"{url}: ArcGIS error 400: Invalid query parameters"
        assert hits == ["/FeatureServer/0/query?where=bad&f=json"]  # asked once: retrying cannot mend it
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize(
    "kind,faults,words",
    [
        ("query", ["timeout:2"] * 3, "timed out"),
        ("query", ["500"] * 3, "HTTP 500"),
        ("query", ["truncate"] * 3, "truncated"),
        ("query", ["truncate_nolen"] * 3, "not valid JSON"),
        ("info", ["500"] * 3, "HTTP 500"),
    ],
)
def test_persistent_fault_stores_nothing(tmp_path, blank, mapping, kind, faults, words):
    srv = ArcGISServer(_layer(7), max_record_count=3)
    srv.fail("query", "ok")  # the first page comes through: a later page fails
    srv.fail(kind, *faults)
    st = _store(blank, tmp_path / "s.gpkg")
    try:
        r = pull_arcgis(st, srv.service_url, mapping, layer=0, **FAST)
        assert not r.ok and r.version is None
        assert srv.service_url in r.error and words in r.error, r.error
        assert st.db.execute("SELECT count(*) FROM versions").fetchone()[0] == 0
        assert st.db.execute("SELECT count(*) FROM features").fetchone()[0] == 0
    finally:
        srv.close()
        st.close()


def test_esri_json_answer_is_refused(tmp_path, blank, mapping):
    """A server that ignores f=geojson is reported, never read as an empty layer (which would delete all)."""
    srv = ArcGISServer(_layer(4), max_record_count=10)
    st = _store(blank, tmp_path / "s.gpkg")
    try:
        layer_url = srv.service_url + "/0"  # the layer's own URL, no layer number
        assert pull_arcgis(st, layer_url, mapping, source="team", **FAST).ok
        srv.esri_json = True
        r = pull_arcgis(st, layer_url, mapping, source="team", full=True, **FAST)
        assert not r.ok and "Esri JSON" in r.error and layer_url in r.error
        assert len(st.versions("team")) == 1 and st.versions("team")[0].n_features == 4
    finally:
        srv.close()
        st.close()


def test_cli_pull_and_clear_error(tmp_path, theatre):
    from frontline.cli import main

    m = tmp_path / "mapping.json"
    m.write_text(json.dumps(MAPPING))
    store = tmp_path / "cli.gpkg"
    srv = ArcGISServer(_layer(4), max_record_count=3)
    try:
        args = ["pull", "arcgis", srv.service_url, "--layer", "0", "--mapping", str(m), "--store", str(store)]
        fast = ["--timeout", "0.5", "--retries", "1"]
        ok = CliRunner().invoke(main, [*args, *fast, "--source", "team", "--json"])
        assert ok.exit_code == 0, ok.output
        out = json.loads(ok.stdout)
        assert (out["status"], out["fetched"], out["source"]) == ("added", 4, "team")
        srv.fail("query", "500", "500")
        bad = CliRunner().invoke(main, [*args, *fast, "--source", "team", "--full"])
        assert bad.exit_code == 1
        assert "Error: " in bad.stderr and srv.service_url in bad.stderr and "Traceback" not in bad.output
        bad_map = tmp_path / "bad.json"
        bad_map.write_text(json.dumps({"field": "status", "values": {"RU": {"role": "held"}}}))
        r = CliRunner().invoke(main, [*args[:-4], "--mapping", str(bad_map), "--store", str(store)])
        assert r.exit_code == 1 and "side" in r.stderr and "Traceback" not in r.output
    finally:
        srv.close()
    ro = GeoPackageStore(store, readonly=True)
    try:
        assert len(ro.versions("team")) == 1
    finally:
        ro.close()


def test_mapping_is_the_gis_mapping(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps(MAPPING))
    assert load_mapping(p)["values"]["RU"] == {"role": "held", "side": "ru"}


def test_the_layer_copyright_becomes_the_source_attribution(tmp_path, blank, mapping):
    """A pulled layer's copyrightText is its source's attribution, and a user's own text is never replaced."""
    from frontline.store.source_info import set_source_info, source_info

    srv = ArcGISServer(_layer(3), max_record_count=10)
    st = _store(blank, tmp_path / "s.gpkg")
    try:
        assert pull_arcgis(st, srv.service_url, mapping, layer=0, source="team", **FAST).ok
        info = source_info(st, "team")
        assert info["attribution"] == "Generated test layer (Frontline tests)"
        assert info["title"] == "Control areas" and info["url"].endswith("/FeatureServer/0")
        set_source_info(st, "team", attribution="Our desk")
        srv.edit(2, _box(9), "RU", T0 + 90000)
        assert pull_arcgis(st, srv.service_url, mapping, layer=0, source="team", **FAST).ok
        assert source_info(st, "team")["attribution"] == "Our desk"
    finally:
        srv.close()
        st.close()
