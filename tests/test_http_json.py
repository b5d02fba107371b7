"""The one "fetch JSON, fetch a bad body again" path (``frontline._http.get_json``) as the live feed's listing uses it.

Bars, against the local replay server (``tests/replay_server.py``, real HTTP on loopback): a listing cut short
or not JSON is fetched again and then read in id order; network faults and bad bodies share one budget, so
``retries=N`` never makes more than N + 1 requests; when every answer is bad the error names the URL, the number
of attempts and the last reason; a listing that is JSON but not a list is refetched, not read as empty.
"""

from __future__ import annotations

import pytest
from replay_server import ReplayServer, api_object, same_answer_server

from frontline._http import HttpOptions
from frontline.errors import FetchError
from frontline.sources.live import list_versions

FAST = HttpOptions(timeout=2.0, retries=2, backoff=0.01)


def _server() -> ReplayServer:
    srv = ReplayServer([api_object(vid, []) for vid in (1_741_000_700, 1_741_000_300, 1_741_001_200)])
    srv.listing_order = "reversed"
    return srv


def test_bad_listing_bodies_are_fetched_again():
    with _server() as srv:
        srv.fail(srv.path_of(), "truncate_nolen", "invalid_json")  # both 200s whose body is no JSON
        got = list_versions(srv.base_url, FAST)
        assert [e["id"] for e in got] == [1_741_000_300, 1_741_000_700, 1_741_001_200]
        assert [h[3] for h in srv.hits(srv.path_of())] == ["truncate_nolen", "invalid_json", "ok"]


def test_one_budget_for_network_faults_and_bad_bodies():
    with _server() as srv:
        srv.fail(srv.path_of(), "500", "truncate_nolen", "truncate", "503")
        with pytest.raises(FetchError) as err:
            list_versions(srv.base_url, FAST)
        msg = str(err.value)
        assert msg.startswith(f"{srv.base_url}/history/public: failed after 3 attempts"), msg
        assert "truncated" in msg  # the last reason: half the body under the full Content-Length
        assert [h[3] for h in srv.hits(srv.path_of())] == ["500", "truncate_nolen", "truncate"]


def test_persistently_bad_listing_names_url_and_reason():
    with ReplayServer([]) as srv:
        srv.fail_always(srv.path_of(), "invalid_json")
        with pytest.raises(FetchError) as err:
            list_versions(srv.base_url, HttpOptions(timeout=2.0, retries=1, backoff=0.01))
        msg = str(err.value)
        assert f"{srv.base_url}/history/public" in msg and "not valid JSON" in msg, msg
        assert len(srv.hits(srv.path_of())) == 2


def test_empty_listing_is_read_in_one_request():
    with ReplayServer([]) as srv:
        assert list_versions(srv.base_url, FAST) == []
        assert len(srv.hits(srv.path_of())) == 1


def test_listing_that_is_not_a_list_is_refetched():
    """A JSON object where a list is expected (an error object in a 200) is fetched again, never read as empty."""
    srv, hits = same_answer_server(b'{"message": "maintenance"}')
    base = f"http://127.0.0.1:{srv.server_port}/api"
    try:
        with pytest.raises(FetchError) as err:
            list_versions(base, FAST)
        assert str(err.value) == (
            f"{base}/history/public: failed after 3 attempts (expected a JSON list of versions, got dict)"
        )
        assert hits == ["/api/history/public"] * 3
    finally:
        srv.shutdown()
        srv.server_close()
