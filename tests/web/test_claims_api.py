"""Claims and events API over a real store: GeoJSON shapes, history, POST with token, size limit, validation."""

from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402
from test_claims import DAY, T0, WEEK, N, build_store, iso  # noqa: E402

from frontline.web import create_app  # noqa: E402

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    p = tmp_path_factory.mktemp("api") / "a.gpkg"
    build_store(p, N).close()
    return p


@pytest.fixture(scope="module")
def client(path):
    with TestClient(create_app(path, write_token=TOKEN)) as c:
        yield c


def _auth():
    return {"Authorization": f"Bearer {TOKEN}"}


def test_empty_ledger_on_readonly_store(client):
    r = client.get("/api/claims")
    assert r.status_code == 200 and r.json() == {"type": "FeatureCollection", "features": []}
    assert client.get("/api/events").json()["features"] == []
    assert client.get("/api/claims/1/history").status_code == 404


def test_post_requires_token(path, client):
    body = {
        "claimant": "RU MoD",
        "time": iso(T0 + 3 * WEEK + DAY),
        "lon": 36.055,
        "lat": 51.5,
        "side": "ru",
        "change": "taken",
    }
    with TestClient(create_app(path)) as ro:  # no token configured: writes disabled
        r = ro.post("/api/claims", json=body)
        assert r.status_code == 403 and "read-only" in r.json()["detail"]
    assert client.post("/api/claims", json=body).status_code == 401
    assert client.post("/api/claims", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_post_validation_and_size(client):
    r = client.post(
        "/api/claims", content=b"{" + b" " * (70 * 1024) + b"}", headers=_auth() | {"content-type": "application/json"}
    )
    assert r.status_code == 413
    r = client.post("/api/claims", json={"claimant": "x", "time": "2025-01-20", "side": "ru"}, headers=_auth())
    assert r.status_code == 422 and "settlement" in r.json()["detail"]
    r = client.post(
        "/api/claims",
        json={"claimant": "x", "time": "not a time", "lon": 36, "lat": 51, "side": "ru", "change": "taken"},
        headers=_auth(),
    )
    assert r.status_code == 422 and "time" in r.json()["detail"]
    r = client.post(
        "/api/claims",
        json={
            "claimant": "x",
            "time": "2025-01-20",
            "metric": "share",
            "value": "50%",
            "side": "ua",
            "region": "/etc/passwd",
        },
        headers=_auth(),
    )
    assert r.status_code == 422 and r.json()["parameter"] == "region"
    r = client.post("/api/claims", content=b"[1,2", headers=_auth() | {"content-type": "application/json"})
    assert r.status_code == 400
    # the validator of the CLI and the files: the field is named
    for rec, field in (({"side": "nato"}, "side"), ({"confidence": 7}, "confidence"), ({"time": "2099-01-01"}, "time")):
        body = {"claimant": "x", "time": "2025-01-20", "lon": 36, "lat": 51, "side": "ru", "change": "taken"} | rec
        r = client.post("/api/claims", json=body, headers=_auth())
        assert r.status_code == 422 and r.json()["parameter"] == field, r.json()


def test_post_then_get(client):
    body = {
        "claimant": "RU MoD",
        "time": iso(T0 + 3 * WEEK + DAY),
        "lon": 36.055,
        "lat": 51.5,
        "side": "ru",
        "change": "taken",
        "text": "Lebedevka liberated",
        "source_url": "https://t.me/x/1",
    }
    r = client.post("/api/claims", json=body, headers=_auth())
    assert r.status_code == 201, r.text
    j = r.json()
    # week 4 shows ru, 6 days after the claim (see test_claims.py)
    assert j["status"] == "confirmed" and j["detail"]["lag_days"] == pytest.approx(6.0)
    assert client.post("/api/claims", json=body, headers=_auth()).json()["added"] is False
    poly = {
        "claimant": "ISW",
        "time": iso(T0 + 2 * WEEK),
        "side": "ru",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[36, 51.45], [36.1, 51.45], [36.1, 51.55], [36, 51.55], [36, 51.45]]],
        },
    }
    assert client.post("/api/claims", json=poly, headers={"X-Frontline-Token": TOKEN}).status_code == 201
    fc = client.get("/api/claims").json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    f = {x["properties"]["kind"]: x for x in fc["features"]}
    assert f["settlement"]["geometry"] == {"type": "Point", "coordinates": [36.055, 51.5]}
    assert f["settlement"]["properties"]["status"] == "confirmed"
    assert f["polygon"]["geometry"]["type"] == "Polygon"
    assert f["polygon"]["properties"]["detail"]["share_held_at_claim"] is not None
    # at= before the settlement claim's time leaves only the polygon claim
    early = client.get("/api/claims", params={"at": iso(T0 + 2 * WEEK + DAY)}).json()
    assert [x["properties"]["kind"] for x in early["features"]] == ["polygon"]
    assert client.get("/api/claims", params={"at": "garbage"}).status_code == 400
    cid = f["settlement"]["id"]
    h = client.get(f"/api/claims/{cid}/history").json()
    assert [(x["old_status"], x["new_status"]) for x in h["history"]] == [(None, "confirmed")]


def test_events_bbox(path, client):
    from frontline.sources.events import Event
    from frontline.store import ledger, open_store

    st = open_store(path)
    ledger.add_events(
        st,
        [
            Event(time=T0, lon=36.1, lat=51.5, type="strike", side="ru"),
            Event(time=T0, lon=37.5, lat=48.1, type="equipment_loss", side="ua"),
        ],
    )
    st.close()
    fc = client.get("/api/events").json()
    assert len(fc["features"]) == 2
    fc = client.get("/api/events", params={"bbox": "36,51,37,52"}).json()
    assert [x["geometry"]["coordinates"] for x in fc["features"]] == [[36.1, 51.5]]
    assert fc["features"][0]["properties"]["type"] == "strike"
    assert client.get("/api/events", params={"bbox": "1,2,3"}).status_code == 400


def test_line_claim_shape(client):
    # a claimed front line comes back as the same LineString (6 decimals) with its kind and a status
    line = {
        "claimant": "ISW",
        "time": iso(T0 + 2 * WEEK + DAY),
        "side": "ru",
        "geometry": {"type": "LineString", "coordinates": [[36.0, 51.40], [36.05, 51.45], [36.1, 51.5]]},
    }
    r = client.post("/api/claims", json=line, headers=_auth())
    assert r.status_code == 201, r.text
    cid = r.json()["claim_id"]
    f = next(x for x in client.get("/api/claims").json()["features"] if x["id"] == cid)
    assert f["properties"]["kind"] == "line"
    assert f["geometry"] == {"type": "LineString", "coordinates": [[36.0, 51.4], [36.05, 51.45], [36.1, 51.5]]}
    assert f["properties"]["status"] in ("confirmed", "premature", "contradicted", "pending", "no_data")
