"""An ArcGIS REST feature-service layer as a source: layer info, paged queries, edits since a time.

A FeatureServer or MapServer layer (``…/FeatureServer/0``) is read in three kinds of request, all through
:func:`frontline._http.get_json` (time-outs, retries, backoff, ``Retry-After``):

* ``{layer}?f=json``: the layer's ``name``, ``maxRecordCount``, ``objectIdField`` and ``editFieldsInfo``;
* ``{layer}/query?where=…&outFields=*&outSR=4326&f=geojson&resultOffset=…&resultRecordCount=…``: one page of
  features, paged until ``exceededTransferLimit`` is false (at the top of the answer or, as some servers write
  it in GeoJSON, under ``properties``);
* ``{layer}/query?where=…&returnIdsOnly=true&f=json``: the object ids the layer holds now, so that an
  incremental pull (``where=EditDate > timestamp '…'``) also learns of deletions.

Attribute values are classified with the same JSON mapping as :mod:`frontline.sources.gis`. What to ask for and
how the answer is merged with the layer state already stored is :mod:`frontline.live_pull` (the layer above).
A body that is not JSON, or an ArcGIS error object in a ``200`` answer, is fetched again within the retry budget;
errors name the URL.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry import shape

from .. import _http
from .._http import NO_RETRY, HttpOptions, Refused
from ..errors import FetchError
from ..model import ROLE_UNCLASSIFIED, Snapshot, utc
from .gis import classify_record, load_mapping

__all__ = [
    "LayerInfo",
    "layer_url",
    "get_json",
    "layer_info",
    "query_features",
    "object_ids",
    "edits_where",
    "feature_hash",
    "object_id",
    "load_mapping",
    "snapshot",
]

DEFAULT_PAGE = 1000  # what ArcGIS Server answers when a layer names no maxRecordCount


@dataclass
class LayerInfo:
    """What a layer says about itself (``{layer}?f=json``).

    Attributes
    ----------
    url
        The layer's URL (``…/FeatureServer/0``).
    name
        The layer's name.
    max_record_count
        Most features one query answers.
    object_id_field
        The field holding each feature's object id.
    edit_date_field
        The field holding each feature's last edit time (epoch milliseconds), None when the layer tracks none.
    copyright
        The layer's ``copyrightText`` (its attribution; ``""`` when it gives none).
    """

    url: str
    name: str
    max_record_count: int
    object_id_field: str
    edit_date_field: str | None
    copyright: str = ""


def layer_url(service_url: str, layer: int | str | None) -> str:
    """The URL of layer ``layer`` of a service (``…/FeatureServer`` + ``/0``); a layer URL when ``layer`` is None."""
    base = service_url.rstrip("/")
    return base if layer is None else f"{base}/{layer}"


def _with_params(url: str, params: dict[str, Any]) -> str:
    return f"{url}?{urllib.parse.urlencode(params)}"


def _arcgis_object(obj: Any) -> dict:
    """The :func:`frontline._http.get_json` check of an answer: an ArcGIS JSON object, not an error object.

    Raises
    ------
    FetchError
        For a body worth fetching again: not a JSON object, or a server-side ArcGIS error (ArcGIS answers many
        errors with ``200``).
    Refused
        For an error object with a client code (``400``, ``404``, …): asking again cannot mend it.
    """
    if not isinstance(obj, dict):
        raise FetchError(f"expected a JSON object, got {type(obj).__name__}")
    err = obj.get("error")
    if isinstance(err, dict):
        reason = f"ArcGIS error {err.get('code')}: {err.get('message') or 'no message'}"
        raise (Refused if err.get("code") in NO_RETRY else FetchError)(reason)
    return obj


def get_json(
    url: str,
    opts: HttpOptions | None = None,
    *,
    stop_event: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """GET a URL and read its body as an ArcGIS JSON object (:func:`frontline._http.get_json`).

    Network failures, a body that is not a JSON object (truncated without ``Content-Length``, a proxy's HTML
    page) and an ArcGIS error object with a server-side code are retried within one budget
    (``opts.retries``); an error object with a client code fails at once.

    Raises
    ------
    FetchError
        Naming the URL and the reason, when no good answer came.
    Stopped
        When ``stop_event`` was set.
    """
    obj: dict = _http.get_json(url, opts, check=_arcgis_object, stop_event=stop_event, sleep=sleep)
    return obj


def layer_info(url: str, opts: HttpOptions | None = None, **kw) -> LayerInfo:
    """Read a layer's description (``{url}?f=json``).

    Parameters
    ----------
    url
        The layer's URL.
    opts, kw
        Request options; ``stop_event``, ``sleep`` as for :func:`get_json`.

    Raises
    ------
    FetchError
        When the description cannot be read or is not a feature layer's.
    """
    info = get_json(_with_params(url, {"f": "json"}), opts, **kw)
    oid = info.get("objectIdField") or next(
        (f.get("name") for f in info.get("fields") or [] if f.get("type") == "esriFieldTypeOID"), None
    )
    if not oid:
        raise FetchError(f"{url}: not a feature layer (no objectIdField in its description)")
    edit = (info.get("editFieldsInfo") or {}).get("editDateField")
    return LayerInfo(
        url=url,
        name=str(info.get("name") or url.rsplit("/", 1)[-1]),
        max_record_count=int(info.get("maxRecordCount") or DEFAULT_PAGE),
        object_id_field=str(oid),
        edit_date_field=str(edit) if edit else None,
        copyright=str(info.get("copyrightText") or "").strip(),
    )


def _exceeded(page: dict) -> bool:
    """Whether more features are left after this page (top-level or GeoJSON ``properties``)."""
    props = page.get("properties")
    nested = props.get("exceededTransferLimit") if isinstance(props, dict) else None
    return bool(page.get("exceededTransferLimit") or nested)


def object_id(feature: dict, oid_field: str) -> str | None:
    """A GeoJSON feature's object id as text (its ``id``, else the object-id attribute)."""
    value = feature.get("id")
    if value is None:
        value = (feature.get("properties") or {}).get(oid_field)
    return None if value is None else str(value)


def query_features(
    info: LayerInfo,
    where: str,
    opts: HttpOptions | None = None,
    *,
    page_size: int | None = None,
    **kw,
) -> list[dict]:
    """Every feature matching ``where``, as GeoJSON features in lon/lat, paged by ``resultOffset``.

    Parameters
    ----------
    info
        The layer (its ``max_record_count`` caps the page size).
    where
        The SQL filter sent as ``where``.
    opts, kw
        Request options; ``stop_event``, ``sleep`` as for :func:`get_json`.
    page_size
        Features per page (at most ``info.max_record_count``).

    Raises
    ------
    FetchError
        When a page cannot be read, or the server ignores ``resultOffset`` (answers the same features again).
    """
    size = min(page_size or info.max_record_count, info.max_record_count)
    out: list[dict] = []
    seen: set[str] = set()
    while True:
        params = {
            "where": where,
            "outFields": "*",
            "outSR": 4326,
            "f": "geojson",
            "orderByFields": info.object_id_field,  # a stable order, or pages may overlap or skip
            "resultOffset": len(out),
            "resultRecordCount": size,
        }
        url = _with_params(f"{info.url}/query", params)
        page = get_json(url, opts, **kw)
        feats = page.get("features")
        if not isinstance(feats, list):
            raise FetchError(f"{url}: not a GeoJSON FeatureCollection (no 'features' list)")
        if "geometryType" in page or any(isinstance(f, dict) and "attributes" in f for f in feats):
            # an older server ignores f=geojson and answers Esri JSON: reading it as GeoJSON would drop every feature
            raise FetchError(f"{url}: the server answers Esri JSON, not GeoJSON (f=geojson needs ArcGIS Server 10.4+)")
        ids = {object_id(f, info.object_id_field) for f in feats if isinstance(f, dict)}
        if feats and ids <= seen:
            raise FetchError(f"{url}: the server answers the same features again (it does not page by resultOffset)")
        seen |= {i for i in ids if i is not None}
        out.extend(f for f in feats if isinstance(f, dict))
        if not _exceeded(page) or not feats:
            return out


def object_ids(info: LayerInfo, where: str, opts: HttpOptions | None = None, **kw) -> set[str]:
    """The object ids of every feature matching ``where`` (``returnIdsOnly``, not subject to paging).

    Raises
    ------
    FetchError
        When the answer cannot be read or lists no ``objectIds``.
    """
    url = _with_params(f"{info.url}/query", {"where": where, "returnIdsOnly": "true", "f": "json"})
    ans = get_json(url, opts, **kw)
    ids = ans.get("objectIds")
    if ids is None and "objectIds" in ans:
        return set()  # an empty layer answers null
    if not isinstance(ids, list):
        raise FetchError(f"{url}: no 'objectIds' list in the answer")
    return {str(i) for i in ids}


def edits_where(edit_field: str, since_s: int, where: str | None = None) -> str:
    """The filter for features edited after ``since_s`` (epoch seconds, UTC), within the user's ``where``.

    ArcGIS standard SQL takes ``timestamp 'YYYY-MM-DD HH:MI:SS'``; the time is whole seconds, so edits in the
    same second as the last one are fetched again (merging them changes nothing).
    """
    stamp = datetime.fromtimestamp(since_s, UTC).strftime("%Y-%m-%d %H:%M:%S")
    clause = f"{edit_field} > timestamp '{stamp}'"
    return f"({where}) AND {clause}" if where and where.strip() not in ("", "1=1") else clause


def _record(feature: dict, mapping: dict) -> tuple[Any, dict, dict]:
    """``(geometry, mapping spec, properties as text)`` of a GeoJSON feature, as :mod:`.gis` classifies them."""
    props = {k: (None if v is None else str(v)) for k, v in (feature.get("properties") or {}).items()}
    geom = feature.get("geometry")
    try:
        g = shapely.force_2d(shape(geom)) if geom else None
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException):
        g = None  # an unreadable geometry is reported as "no geometry" by the classifier
    spec = mapping["values"].get(str(props.get(mapping["field"])), {"role": mapping.get("default", ROLE_UNCLASSIFIED)})
    return g, spec, props


def feature_hash(feature: dict, mapping: dict) -> bytes:
    """The store key of a served feature: its geometry, attributes and what the mapping makes of it."""
    g, spec, props = _record(feature, mapping)
    return hashlib.blake2b(
        (shapely.to_wkb(g) if g is not None else b"")
        + json.dumps(props, sort_keys=True).encode()
        + json.dumps(spec, sort_keys=True).encode(),
        digest_size=16,
    ).digest()


def snapshot(
    state: dict[str, bytes],
    served: dict[str, dict],
    mapping: dict,
    *,
    source: str,
    valid_time: int,
    origin: str,
) -> Snapshot:
    """One importable version of a layer's state.

    Parameters
    ----------
    state
        ``{object id: feature hash}`` of every feature the layer holds now.
    served
        ``{object id: GeoJSON feature}`` of the features fetched this time; the others are already in the
        store under their hash (the importer never parses a feature it knows).
    mapping
        The value → role mapping (:func:`frontline.sources.gis.load_mapping`).
    source, valid_time, origin
        The version's source name, time (epoch seconds) and where it came from.
    """
    oids = sorted(state, key=lambda o: (len(o), o))
    hashes = [state[o] for o in oids]

    def parse(i: int):
        feat = served.get(oids[i])
        if feat is None:
            return None, f"object {oids[i]} is neither stored nor served"
        return classify_record(_record(feat, mapping), mapping["field"])

    t = utc(valid_time)
    return Snapshot(
        source=source,
        version_id=str(int(valid_time)),
        valid_time=t,
        published_at=t,
        revised_at=None,
        origin=origin,
        content_hash=hashlib.blake2b(b"".join(sorted(hashes)), digest_size=16).hexdigest(),
        hashes=hashes,
        parse=parse,
    )
