"""The collections of the OGC API – Features endpoint: what each one holds and how its features are made.

Each collection reuses the function the matching ``/api/*`` route answers
with (no second computation path): the control map and contested ground
from :meth:`~frontline.web.service.Service.layers` (``/api/state``), the
contact line and corridors from :mod:`frontline.analysis.materialise`
(``/api/contact-line``, ``/api/corridors``), settlements from
:func:`~frontline.web.routes_settlements.settlements_body`, claims and
events from :mod:`~frontline.web.routes_claims`.

A *versioned* collection has one set of features per version of the map;
each feature carries ``version``, ``valid_from`` and ``valid_to`` (the next
version's time; null for the last) and an id ``<version id>.<key>``. The
ledger's collections (claims, events) are not versioned: their ids are the
ledger's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..model import iso
from .errors import ApiError
from .geojson import geometry_json

Feature = dict[str, Any]


@dataclass(frozen=True)
class Collection:
    """One collection: its id, title, description and how its features are made.

    ``per_version(an, v)`` makes the features of one version of a versioned
    collection (``an``: the analysis service); ``unversioned(an, box, start,
    end)`` makes those of a ledger collection for a bbox and a time range.
    ``fixed`` is the number of features every version has, when it is fixed
    (the control map: one per side and status), so that ``numberMatched``
    is known without making them.
    """

    id: str
    title: str
    description: str
    per_version: Callable[[Any, Any], list[Feature]] | None = None
    unversioned: Callable[[Any, Any, int | None, int | None], list[Feature]] | None = None
    fixed: int | None = None
    geometry: str = "polygon"

    @property
    def versioned(self) -> bool:
        """True when the collection has one set of features per version."""
        return self.per_version is not None


def _control_features(an, v, statuses: tuple[str, ...]) -> list[Feature]:
    """One feature per side held (abroad) and contested: the layers ``/api/state`` draws, at full detail."""
    feats = []
    for status, side, g in an.layers(v):
        if status not in statuses:
            continue
        geom = None if g is None or g.is_empty else orjson.loads(geometry_json(g, 6))
        key = f"{status}-{side}" if side else status
        feats.append({"type": "Feature", "id": key, "properties": {"status": status, "side": side}, "geometry": geom})
    return feats


def _body_features(body: bytes) -> list[Feature]:
    """The features of a ready FeatureCollection body, numbered when they have no id of their own."""
    feats = orjson.loads(body).get("features", [])
    for i, f in enumerate(feats):
        f["id"] = str(f.get("id", i))
    return feats


def _contact_features(an, v) -> list[Feature]:
    from .routes_analysis import contact_line_body

    return _body_features(an.memo(("contact", v.pk, v.revision, None), lambda: contact_line_body(an, v, None)))


def _corridor_features(side: str) -> Callable[[Any, Any], list[Feature]]:
    def make(an, v) -> list[Feature]:
        from ..analysis.materialise import CORRIDOR_DEFAULTS as d
        from .routes_analysis import corridors_body

        args = (side, d["ground"], d["include_contested"], d["alert_width_m"])
        return _body_features(an.memo(("corridors", v.pk, v.revision, *args), lambda: corridors_body(an, v, *args)))

    return make


def _settlement_features(an, v) -> list[Feature]:
    from .routes_settlements import MAX_LIMIT, settlements_body

    key = ("settlements", v.pk, v.revision, None, MAX_LIMIT, None)
    return _body_features(an.memo(key, lambda: settlements_body(an, v, None, MAX_LIMIT, None)))


def _claim_features(an, box, start: int | None, end: int | None) -> list[Feature]:
    """The ledger's claims published from ``start`` to ``end`` (an instant: published by then)."""
    from .routes_claims import ledger_geojson

    feats = ledger_geojson(an, None)["features"]
    out = []
    for f in feats:
        t = f["properties"].get("published_at")
        if t is not None and ((start is not None and t < start) or (end is not None and t > end)):
            continue
        f["id"] = str(f["id"])
        f["properties"]["published_at"] = iso(t) if isinstance(t, (int, float)) else t
        out.append(f)
    return out


def _event_features(an, box, start: int | None, end: int | None) -> list[Feature]:
    from .routes_claims import events_geojson

    feats = events_geojson(an, box, start, end)["features"]
    for f in feats:
        f["id"] = str(f["id"])
    return feats


def collections(an) -> dict[str, Collection]:
    """The collections the store behind the analysis service ``an`` has, by id."""
    sides = list(an.store.sides)
    out = [
        Collection(
            "control",
            "Control map",
            "Ground each side holds outside its home, and contested ground: one feature per side and status "
            "for each version.",
            per_version=lambda an, v: _control_features(an, v, ("held", "contested")),
            fixed=len(sides) + 1,
        ),
        Collection(
            "contested",
            "Contested ground",
            "Ground of unknown or contested status, one feature per version.",
            per_version=lambda an, v: _control_features(an, v, ("contested",)),
            fixed=1,
        ),
        Collection(
            "contact-line",
            "Contact line",
            "Where the sides' ground meets, per version.",
            per_version=_contact_features,
            geometry="linestring",
        ),
    ]
    for side in sides:
        out.append(
            Collection(
                f"corridors-{side}",
                f"Necks and pockets of {side}'s ground",
                f"Narrow corridors (with width) and pockets of the ground {side} holds outside its home, per version.",
                per_version=_corridor_features(side),
                geometry="geometry",
            )
        )
    if an.reference("settlements") is not None:
        out.append(
            Collection(
                "settlements",
                "Settlements",
                "Settlements with who holds each, per version.",
                per_version=_settlement_features,
                geometry="point",
            )
        )
    out.append(
        Collection(
            "claims",
            "Claims",
            "Claims of the ledger with their verification status (datetime: when published).",
            unversioned=_claim_features,
            geometry="geometry",
        )
    )
    out.append(
        Collection(
            "events",
            "Events",
            "Geolocated events of the ledger (datetime: when they happened).",
            unversioned=_event_features,
            geometry="point",
        )
    )
    return {c.id: c for c in out}


def collection(an, cid: str) -> Collection:
    """The collection ``cid``; 404 when the store has none by that id."""
    found = collections(an).get(cid)
    if found is None:
        raise ApiError(404, "collectionId", f"No collection {cid!r}; see /ogc/collections.")
    return found


def version_features(an, col: Collection, v, valid_to: int | None) -> list[Feature]:
    """The features of ``col`` in version ``v``, with ``version``, ``valid_from``, ``valid_to`` and ids."""
    assert col.per_version is not None
    key = ("ogc", col.id, v.pk, v.revision)
    body = an.memo(key, lambda: orjson.dumps(col.per_version(an, v), option=orjson.OPT_SERIALIZE_NUMPY))
    feats = orjson.loads(body)
    stamp = {"version": v.version_id, "valid_from": iso(v.valid_time), "valid_to": iso(valid_to)}
    for f in feats:
        f["id"] = f"{v.version_id}.{f['id']}"
        f["properties"] = {**(f.get("properties") or {}), **stamp}  # the stamp wins: it is what datetime selected
    return feats
