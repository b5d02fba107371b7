"""OGC API – Features (Part 1: core, GeoJSON, HTML) over the store, read-only, under ``/ogc``.

GIS clients (QGIS's OAPIF provider, GDAL's OAPIF driver) read the map's
collections (:mod:`frontline.web.ogc_collections`) here without knowing the
rest of the API:

* ``/ogc`` — the landing page (links ``self``, ``service-desc``, ``conformance``, ``data``);
* ``/ogc/conformance`` — the classes passed (core, GeoJSON, HTML);
* ``/ogc/collections``, ``/ogc/collections/{collectionId}`` — spatial and temporal extent, CRS;
* ``/ogc/collections/{collectionId}/items`` — ``bbox``, ``datetime``, ``limit``
  (default 10, at most 10000), ``offset``; ``next``/``prev`` links; ``numberMatched``
  when it is known without making every feature;
* ``/ogc/collections/{collectionId}/items/{featureId}``.

``datetime`` on a versioned collection: absent, the last version; an
instant, the version valid then; an interval (``a/b``, ``../b``, ``a/..``),
every version whose validity (from its time to the next version's)
intersects it, each feature with ``valid_from``/``valid_to``. On claims and
events it selects by their own time (claims: published by an instant).

Every resource answers GeoJSON/JSON or HTML (``f=json|html``, else the
``Accept`` header). Errors answer the OGC exception body (``code``,
``description``) with the API's ``detail``/``parameter``. A client that
appends ``datetime`` to every request (QGIS: a query string in its ``url``)
is answered as if it had not on the resources that do not filter.
"""

from __future__ import annotations

import functools
import html
import time
from urllib.parse import quote, urlencode

import orjson
import shapely
from fastapi import Query, Request
from fastapi.responses import Response

from ..model import iso
from .errors import ApiError
from .ogc_collections import Collection, Feature, collection, collections, version_features
from .params import KnownAt, Source, parse_bbox, parse_known_at, parse_time_param

DEFAULT_LIMIT, MAX_LIMIT = 10, 10_000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84_SHORT = "CRS84 (lon/lat)"
GEOJSON, JSON, HTML = "application/geo+json", "application/json", "text/html"
OPEN = ("", "..")
ITEMS = "/ogc/collections/{collectionId}/items"
Fmt = Query(None, alias="f", description="json or html (default: from the Accept header)")
Crs = Query(None, alias="crs", description=f"the CRS of the answer: only {CRS84_SHORT}")
BboxCrs = Query(None, alias="bbox-crs", description=f"the CRS of bbox: only {CRS84_SHORT}")
Datetime = Query(None, alias="datetime", description="an instant, or an interval a/b (open: ../b, a/..)")


# What the routes answer besides the app's JSON (documented, so that the schema states every media type).
DOC_HTML = {200: {"content": {"text/html": {"schema": {"type": "string"}}}}}
DOC_GEOJSON = {
    200: {
        "content": {"application/geo+json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}
    }
}


def _ogc_errors(fn):
    """Answer an :class:`ApiError` raised by an OGC route with the OGC exception body (and the API's)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            code = "NotFound" if exc.status == 404 else "InvalidParameterValue"
            body = {"code": code, "description": exc.message, "detail": exc.message, "parameter": exc.parameter}
            return Response(
                orjson.dumps(body), status_code=exc.status, media_type=JSON, headers={"Cache-Control": "no-cache"}
            )

    return run


def wants_html(request: Request, f: str | None) -> bool:
    """True when the answer should be HTML: ``f=html``, or a browser's ``Accept`` without ``f``."""
    if f not in (None, ""):
        if f not in ("json", "html"):
            raise ApiError(400, "f", f"f must be json or html, not {f!r}.")
        return f == "html"
    accept = request.headers.get("accept", "")
    return HTML in accept and "json" not in accept.split(HTML)[0]


def base_url(request: Request) -> str:
    """The URL of the landing page (``…/ogc``) as the client reached the server."""
    return str(request.base_url).rstrip("/") + "/ogc"


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _self_links(request: Request, json_type: str = JSON) -> list[dict]:
    """``self`` and ``alternate`` links of the resource asked for, in JSON and HTML."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "f"]
    url = str(request.url.replace(query=""))

    def with_f(f: str) -> str:
        return url + "?" + urlencode([*params, ("f", f)])

    is_html = request.query_params.get("f") == "html"
    return [
        _link(with_f("html" if is_html else "json"), "self", HTML if is_html else json_type, "this document"),
        _link(with_f("json" if is_html else "html"), "alternate", json_type if is_html else HTML, "this document"),
    ]


def answer(request: Request, payload: dict, as_html: bool, title: str, media: str = JSON) -> Response:
    """The payload as JSON (``media``) or as an HTML page showing its links and content."""
    if not as_html:
        headers = {"Content-Crs": f"<{CRS84}>"} if media == GEOJSON else None
        return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), media_type=media, headers=headers)
    links = "".join(
        f'<li><a href="{html.escape(lk["href"])}">{html.escape(lk.get("title") or lk["rel"])}</a> '
        f"({html.escape(lk['rel'])}, {html.escape(lk['type'])})</li>"
        for lk in payload.get("links", [])
    )
    body = html.escape(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode())
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1><ul>{links}</ul><pre>{body}</pre></body></html>"
    )
    return Response(page, media_type=HTML)


# -- time and selection ------------------------------------------------------------------------


def parse_datetime(text: str | None) -> tuple[int | None, int | None, bool] | None:
    """``(start, end, instant)`` of a ``datetime`` parameter (None when absent; an open end is None).

    Raises
    ------
    ApiError
        400 when a part is not a time or the interval is inverted.
    """
    if text is None or text.strip() == "":
        return None
    if "/" not in text:
        t = parse_time_param(text, "datetime", "at")
        return t, t, True
    a, _, b = text.partition("/")
    start = None if a in OPEN else parse_time_param(a, "datetime", "start")
    end = None if b in OPEN else parse_time_param(b, "datetime", "end")
    if start is not None and end is not None and start > end:
        raise ApiError(400, "datetime", f"datetime: the interval {text!r} is inverted.")
    return start, end, False


def selected_versions(
    an, when: tuple[int | None, int | None, bool] | None, known_at: int | None = None, source: str | None = None
) -> list[tuple]:
    """``(version, valid_to)`` of the versions a ``datetime`` selects, oldest first.

    Absent: the last version. An instant: the version valid then (none before
    the first). An interval: every version valid at some time in it. With
    ``known_at`` (epoch seconds): the versions known then, each in its revision then.
    ``source``: that source's versions (None: the default source).
    """
    vs = an.versions(known_at, source)
    spans = [(v, vs[i + 1].valid_time if i + 1 < len(vs) else None) for i, v in enumerate(vs)]
    if not spans or when is None:
        return spans[-1:]
    start, end, instant = when
    if instant:
        return [(v, to) for v, to in spans if v.valid_time <= start and (to is None or to > start)]
    return [
        (v, to)
        for v, to in spans
        if (end is None or v.valid_time <= end) and (start is None or to is None or to > start)
    ]


def parse_limit(limit: str | None, offset: str | None) -> tuple[int, int]:
    """``(limit, offset)``: limit 1..10000 (default 10), offset ≥ 0; 400 otherwise."""
    try:
        n = DEFAULT_LIMIT if limit in (None, "") else int(limit)
    except ValueError:
        raise ApiError(400, "limit", f"limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}.") from None
    if not 1 <= n <= MAX_LIMIT:
        raise ApiError(400, "limit", f"limit must be from 1 to {MAX_LIMIT}, not {n}.")
    try:
        k = 0 if offset in (None, "") else int(offset)
    except ValueError:
        raise ApiError(400, "offset", f"offset must be a whole number ≥ 0, not {offset!r}.") from None
    if k < 0:
        raise ApiError(400, "offset", f"offset must be ≥ 0, not {k}.")
    return n, k


def check_crs(value: str | None, name: str) -> None:
    """Refuse a CRS other than CRS84 (the one every geometry is in); 400."""
    if value not in (None, "", CRS84):
        raise ApiError(400, name, f"{name} must be {CRS84} (lon/lat), not {value!r}.")


def parse_ogc_bbox(text: str | None):
    """A 2D box (``minx,miny,maxx,maxy``) or a 3D one whose heights are ignored; 400 otherwise."""
    if text is not None and text.count(",") == 5:
        p = text.split(",")
        text = ",".join([p[0], p[1], p[3], p[4]])
    return parse_bbox(text)


def _in_box(feats: list[Feature], box) -> list[Feature]:
    """The features whose geometry intersects ``box`` (lon/lat)."""
    if box is None:
        return feats
    rect = shapely.box(*box)
    keep = []
    for f in feats:
        g = f.get("geometry")
        if g is not None and shapely.intersects(shapely.from_geojson(orjson.dumps(g)), rect):
            keep.append(f)
    return keep


def page_of(
    an, col: Collection, when, box, limit: int, offset: int, known_at: int | None = None, source: str | None = None
) -> tuple[list[Feature], int | None, bool]:
    """``(features, numberMatched or None, more)`` of one page of a collection's items.

    Versions are made one at a time, and only as far as the page needs:
    ``numberMatched`` is given when every version was made, or when each
    version has a fixed number of features and no bbox filters them.
    """
    if not col.versioned:
        start, end = (when[0], when[1]) if when else (None, None)
        if when is not None and when[2]:  # claims published by an instant, events of that very second
            start = None if col.id == "claims" else start
        assert col.unversioned is not None
        feats = _in_box(col.unversioned(an, box, start, end), box)
        return feats[offset : offset + limit], len(feats), offset + limit < len(feats)
    spans = selected_versions(an, when, known_at, source)
    if col.fixed is not None and box is None:
        first = offset // col.fixed
        got: list[Feature] = []
        for v, to in spans[first:]:
            got += version_features(an, col, v, to)
            if len(got) >= offset - first * col.fixed + limit:
                break
        got = got[offset - first * col.fixed :][:limit]
        total = len(spans) * col.fixed
        return got, total, offset + limit < total
    got, seen = [], 0
    for i, (v, to) in enumerate(spans):
        feats = _in_box(version_features(an, col, v, to), box)
        got += feats[max(0, offset - seen) :]
        seen += len(feats)
        if len(got) > limit:
            return got[:limit], None, True
        if i == len(spans) - 1:
            break
    return got[:limit], seen, False


# -- resources ---------------------------------------------------------------------------------


def theatre_bounds(an) -> list[float]:
    """Lon/lat bounds of the store's regions (the theatre)."""
    hit = getattr(an, "_ogc_bounds", None)
    if hit is None:
        with an.lock:
            geoms = [g for _, g in an.store.regions().values()]
        b = shapely.bounds(shapely.union_all(geoms)) if geoms else [-180.0, -90.0, 180.0, 90.0]
        hit = an._ogc_bounds = [round(float(x), 6) for x in b]
    return hit


def collection_doc(request: Request, an, col: Collection, source: str | None = None) -> dict:
    """The description of one collection: links, extent (spatial, temporal), CRS, item type.

    A versioned collection's temporal extent is ``source``'s (None: the
    default source's), and its links carry ``source`` when one is named.
    """
    base = base_url(request)
    vs = an.versions(None, source)
    tail = f"&source={quote(source)}" if source and col.versioned else ""
    if col.versioned and vs:
        interval = [iso(vs[0].valid_time), None]
    else:
        interval = [None, None]
    return {
        "id": col.id,
        "title": col.title,
        "description": col.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": {
            "spatial": {"bbox": [theatre_bounds(an)], "crs": CRS84},
            "temporal": {"interval": [interval], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
        },
        "links": [
            _link(f"{base}/collections/{col.id}?f=json{tail}", "self", JSON, col.title),
            _link(f"{base}/collections/{col.id}/items?f=json{tail}", "items", GEOJSON, col.title),
            _link(f"{base}/collections/{col.id}/items?f=html{tail}", "items", HTML, col.title),
        ],
    } | _credit(an, source if col.versioned else None)


def _credit(an, source: str | None) -> dict:
    """``source``, ``attribution`` and ``licence`` members of what a versioned collection shows (else none)."""
    name = an.source_name(source)
    if name is None:
        return {}
    attribution, licence = an.source_credit(name)
    return {"source": name, "attribution": attribution, "licence": licence}


def items_doc(
    request: Request,
    an,
    col: Collection,
    when,
    box,
    limit: int,
    offset: int,
    known_at: int | None = None,
    source: str | None = None,
) -> dict:
    """One page of items as a FeatureCollection with its counts, time stamp and paging links (``source``'s)."""
    feats, matched, more = page_of(an, col, when, box, limit, offset, known_at, source)
    links = _self_links(request, GEOJSON)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit", "f")]
    url = str(request.url.replace(query=""))

    def at(k: int) -> str:
        return url + "?" + urlencode([*params, ("limit", str(limit)), ("offset", str(k)), ("f", "json")])

    if more:
        links.append(_link(at(offset + limit), "next", GEOJSON, "next page"))
    if offset > 0:
        links.append(_link(at(max(0, offset - limit)), "prev", GEOJSON, "previous page"))
    links.append(_link(f"{base_url(request)}/collections/{col.id}?f=json", "collection", JSON, col.title))
    doc: dict = {"type": "FeatureCollection", "features": feats}
    if matched is not None:
        doc["numberMatched"] = matched
    doc["numberReturned"] = len(feats)
    doc["timeStamp"] = iso(time.time())
    doc["links"] = links
    return doc | _credit(an, source if col.versioned else None)


def one_feature(an, col: Collection, fid: str, known_at: int | None = None, source: str | None = None) -> Feature:
    """The feature ``fid`` of a collection (``<version id>.<key>`` when versioned; as known at ``known_at``,
    of ``source``); 404."""
    missing = ApiError(404, "featureId", f"No feature {fid!r} in collection {col.id!r}.")
    if not col.versioned:
        assert col.unversioned is not None
        found = [f for f in col.unversioned(an, None, None, None) if f["id"] == fid]
        if not found:
            raise missing
        return found[0]
    vid, dot, _ = fid.partition(".")
    vs = an.versions(known_at, source)
    for i, v in enumerate(vs):
        if dot and v.version_id == vid:
            to = vs[i + 1].valid_time if i + 1 < len(vs) else None
            for f in version_features(an, col, v, to):
                if f["id"] == fid:
                    return f
    raise missing


def _register_items(route, an) -> None:
    """Add the items and one-feature routes (``route``: :func:`register`'s decorator; ``an``: the analysis service)."""

    @route(ITEMS, DOC_GEOJSON, "OGC API – Features: the items of a collection")
    def items(
        request: Request,
        collectionId: str,  # noqa: N803
        f: str | None = Fmt,
        dt: str | None = Datetime,
        bbox: str | None = Query(None, description="minx,miny,maxx,maxy (lon/lat): features that intersect it"),
        limit: str | None = Query(
            None, description=f"at most this many features (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})"
        ),
        offset: str | None = Query(None, description="skip this many features (paging)"),
        crs: str | None = Crs,
        bbox_crs: str | None = BboxCrs,
        known_at: KnownAt = None,
        source: Source = None,
    ):
        check_crs(crs, "crs")
        check_crs(bbox_crs, "bbox-crs")
        col = collection(an, collectionId)
        as_html = wants_html(request, f)
        n, k = parse_limit(limit, offset)
        known = parse_known_at(known_at)
        src = an.pick_source(source)
        doc = items_doc(request, an, col, parse_datetime(dt), parse_ogc_bbox(bbox), n, k, known, src)
        return answer(request, doc, as_html, f"{col.title}: items", GEOJSON)

    @route(ITEMS + "/{featureId}", DOC_GEOJSON, "OGC API – Features: one feature")
    def item(
        request: Request,
        featureId: str,  # noqa: N803
        collectionId: str,  # noqa: N803
        crs: str | None = Crs,
        f: str | None = Fmt,
        dt=Datetime,
        known_at: KnownAt = None,
        source: Source = None,
    ):
        check_crs(crs, "crs")
        col = collection(an, collectionId)
        as_html = wants_html(request, f)
        src = an.pick_source(source)
        feat = dict(one_feature(an, col, featureId, parse_known_at(known_at), src))
        feat |= _credit(an, src if col.versioned else None)
        base = base_url(request)
        feat["links"] = [
            *_self_links(request, GEOJSON),
            _link(f"{base}/collections/{col.id}?f=json", "collection", JSON, col.title),
        ]
        return answer(request, feat, as_html, f"{col.title}: {featureId}", GEOJSON)


def register(app, svc) -> None:
    """Add the ``/ogc`` routes to ``app``; they are answered on the analysis service."""
    an = svc.analyses

    def route(path: str, responses: dict, summary: str):
        """``app.get`` of a handler run on the analysis threads, its errors answered in the OGC body."""
        return lambda fn: app.get(path, responses=responses, summary=summary)(svc.offload(_ogc_errors(fn)))

    @route("/ogc", responses=DOC_HTML, summary="OGC API – Features: landing page")
    def landing(request: Request, f: str | None = Fmt, dt: str | None = Datetime, source: Source = None):
        an.pick_source(source)  # taken (and checked) where a client adds it to every request, as QGIS does
        base = base_url(request)
        doc = {
            "title": "Frontline",
            "description": "Versioned war-map control, contact line, corridors, settlements, claims and events.",
            "links": [
                *_self_links(request),
                _link(
                    str(request.base_url).rstrip("/") + "/openapi.json",
                    "service-desc",
                    "application/vnd.oai.openapi+json;version=3.1",
                    "the API definition",
                ),
                _link(f"{base}/conformance?f=json", "conformance", JSON, "conformance classes"),
                _link(f"{base}/collections?f=json", "data", JSON, "collections"),
            ],
        }
        return answer(request, doc, wants_html(request, f), "Frontline – OGC API Features")

    @route("/ogc/conformance", responses=DOC_HTML, summary="OGC API – Features: conformance classes")
    def conformance(request: Request, f: str | None = Fmt, dt: str | None = Datetime, source: Source = None):
        an.pick_source(source)
        doc = {"conformsTo": CONFORMANCE, "links": _self_links(request)}
        return answer(request, doc, wants_html(request, f), "Conformance")

    @route("/ogc/collections", responses=DOC_HTML, summary="OGC API – Features: the collections")
    def list_collections(request: Request, f: str | None = Fmt, dt: str | None = Datetime, source: Source = None):
        src = an.pick_source(source)
        cols = [collection_doc(request, an, c, src) for c in collections(an).values()]
        doc = {"links": _self_links(request), "collections": cols}
        return answer(request, doc, wants_html(request, f), "Collections")

    @route("/ogc/collections/{collectionId}", responses=DOC_HTML, summary="OGC API – Features: one collection")
    def one_collection(
        request: Request,
        collectionId: str,  # noqa: N803
        f: str | None = Fmt,
        dt: str | None = Datetime,
        source: Source = None,
    ):
        col = collection(an, collectionId)
        doc = collection_doc(request, an, col, an.pick_source(source))
        return answer(request, doc, wants_html(request, f), col.title)

    _register_items(route, an)
