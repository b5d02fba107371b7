"""Per-version results the web map needs, computed once and kept in the store.

What is materialised per version (:data:`WHATS`):

``contact-line``
    The contact line of all the store's sides: the body ``/api/contact-line``
    answers by default (:func:`contact_line_body`: ``line.to_geojson()``, the
    scalar summary, ``version`` and ``time``).
``corridors``
    For each side, the necks and pockets of its ground held abroad with the
    default parameters (:data:`CORRIDOR_DEFAULTS`: what
    ``/api/corridors?side=S`` answers; :func:`corridors_body`).
``settlements``
    The status code of every place of the store's gazetteer
    (:func:`frontline.analysis.settlements.status_on_control`), keyed by the
    gazetteer's import stamp, so a new gazetteer import is never answered
    with the old one's codes (:func:`codes_body`, :func:`codes_from_body`).

Each analysis has a rule version (:data:`RULES`: a number bumped by hand when
the rule or the body's shape changes, and a fingerprint of the thresholds it
depends on, so a changed threshold invalidates too). A stored result is used
only for its version's current revision and the code's rule version
(:mod:`frontline.store.results`).

:func:`materialise` computes what is missing in worker processes (each opens
the store read-only and returns bytes); the parent writes them in batches,
one transaction each, so a crash leaves every earlier batch stored and a
re-run goes on from there. A version whose analysis raises is reported with
the reason and the rest goes on.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from ..model import iso
from ..store.results import ResultReader, ResultRow, current_keys, params_key, put_results, stored_count

__all__ = [
    "WHATS",
    "RULES",  # noqa: F822 (module __getattr__: made on first use)
    "CORRIDOR_DEFAULTS",
    "Outcome",
    "contact_line_body",
    "corridors_body",
    "codes_body",
    "codes_from_body",
    "corridor_params",
    "settlements_params",
    "jobs_for",
    "compute_version",
    "materialise",
    "MaterialiseReport",
    "empty_body",
    "stored_codes",
    "settlement_matrix",
    "settlement_changes_series",
    "SERIES_OF",
    "series_what",
    "series_result",
    "backfill_series",
    "plain",
    "STORED_ENV",
    "stored_results_on",
    "stored_series",
    "contact_line_series_stored",
]

WHATS = ("contact-line", "corridors", "settlements")

#: The parameters ``/api/corridors`` uses when the request gives none: what is materialised.
CORRIDOR_DEFAULTS: dict[str, Any] = {"ground": "abroad", "include_contested": False, "alert_width_m": 1000.0}


def _fingerprint(*parts: Any) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=4).hexdigest()


@cache
def _rule(what: str) -> str:
    """Rule version of one analysis: ``<bumped by hand>-<fingerprint of the thresholds>``.

    Made on first use, one analysis at a time: the thresholds live in the
    contact-line and corridors modules, whose imports a command reading
    another analysis's stored rows would otherwise pay for at start-up.
    """
    # bump the number when the rule, or the shape of the body the web serves, changes
    if what == "contact-line":
        from . import contact_line as cl

        return "2-" + _fingerprint(cl.RULE, cl.PROBE_M, cl.SLIVER_M, cl.WATER_M, cl.SEGMENT_DEG)
    if what == "corridors":
        from .corridors import SERIES_MIN_GROUND_SHARE

        return "2-" + _fingerprint(sorted(CORRIDOR_DEFAULTS.items()), SERIES_MIN_GROUND_SHARE)
    if what == "settlements":
        return "1"  # status_on_control's boundary rules have no thresholds to fingerprint
    raise KeyError(what)


class _Rules(Mapping[str, str]):
    """``{analysis: rule version}`` over :data:`WHATS`, each computed when first looked up (:func:`_rule`)."""

    def __getitem__(self, what: str) -> str:
        return _rule(what)

    def __iter__(self) -> Iterator[str]:
        return iter(WHATS)

    def __len__(self) -> int:
        return len(WHATS)

    def __repr__(self) -> str:
        return repr(dict(self))


_RULES = _Rules()


def _rules() -> Mapping[str, str]:
    """:data:`RULES`, the rule version per analysis."""
    return _RULES


def __getattr__(name: str) -> Mapping[str, str]:
    """``RULES``: ``{analysis: rule version}`` (:func:`_rules`), computed when first asked for (PEP 562)."""
    if name == "RULES":
        return _rules()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def plain(obj: Any) -> Any:
    """``obj`` made JSON-safe: numpy scalars, tuples, non-finite floats, geometries as GeoJSON (6 decimals).

    The same conversion the web API applies (``frontline.web.app._plain``), so
    a stored body and a computed one are the same bytes.
    """
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, BaseGeometry):
        return orjson.loads(shapely.to_geojson(shapely.transform(obj, lambda c: np.round(c, 6))))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def empty_body(v, note: str, **members: Any) -> bytes:
    """JSON bytes of an answer with no features: ``version``, ``time``, ``members``, the ``note`` saying why.

    The web routes answer with it too (a side holding no ground), so a stored
    empty answer and a computed one are the same bytes.
    """
    return orjson.dumps(
        {
            "type": "FeatureCollection",
            "version": v.version_id,
            "time": iso(v.valid_time),
            **members,
            "note": note,
            "features": [],
        }
    )


#: The former private name (``frontline.web.routes_analysis`` imports it): use :func:`empty_body`.


# --------------------------------------------------------------------------
# The bodies (shared with the web routes: one place builds each answer)
# --------------------------------------------------------------------------


def contact_line_body(vc, v, sides: Sequence[str] | None = None, lock: AbstractContextManager | None = None) -> bytes:
    """GeoJSON bytes of the contact line of version ``v`` (what ``/api/contact-line`` answers).

    Parameters
    ----------
    vc
        The version's partition (:func:`frontline.state.version_control`).
    v
        The version (``version_id``, ``valid_time``).
    sides
        The sides to pair (default: the map's).
    lock
        Held while the partition is used (the web's analysis lock).

    Returns
    -------
    bytes
        A FeatureCollection with ``version``, ``time``, ``summary`` (scalars
        of :meth:`ContactLine.to_dict`), ``series`` (the series row's
        ``length_km``, ``total_km``, ``by_state``) and one feature per pair.
    """
    from .contact_line import contact_line, series_row

    with lock or nullcontext():
        line = contact_line(vc, sides=list(sides) if sides else None)
        fc = plain(line.to_geojson())
        summary = {k: x for k, x in plain(line.to_dict()).items() if not isinstance(x, (dict, list))}
    row = series_row(v, None, line)
    return orjson.dumps(
        {
            **fc,
            "type": "FeatureCollection",
            "version": v.version_id,
            "time": iso(v.valid_time),
            "summary": summary,
            # the row of `frontline contact-line --from/--to`, so a series can be read from the store
            "series": plain({k: x for k, x in row.items() if k not in ("time", "version_id")}),
            "features": fc.get("features", []),
        }
    )


def corridors_body(
    vc,
    v,
    side: str,
    mode: str = "abroad",
    include_contested: bool = False,
    alert_width_m: float = 1000.0,
    lock: AbstractContextManager | None = None,
) -> bytes:
    """GeoJSON bytes of the necks and pockets of ``side``'s ground in version ``v`` (``/api/corridors``).

    Parameters
    ----------
    vc
        The version's partition.
    v
        The version.
    side
        Whose ground.
    mode
        ``abroad`` (ground held outside home) or ``held`` (all its ground).
    include_contested
        Analyse held ∪ contested.
    alert_width_m
        Necks narrower than this are flagged.
    lock
        Held while the partition is used (not during :func:`find_necks`,
        which works on its own copies).

    Returns
    -------
    bytes
        A FeatureCollection with ``series`` (the series row:
        :meth:`CorridorReport.summary`), or with a ``note`` and no features
        when the side holds no such ground.
    """
    from ..geodesy import area_km2
    from .corridors import SERIES_MIN_GROUND_SHARE, corridor_inputs, find_necks

    with lock or nullcontext():  # grey ground outside home only for ground abroad; what each bank faces
        kw = corridor_inputs(vc, side, "abroad" if mode == "abroad" else "all", include_contested)
    ground = kw["held"]
    members = {"side": side, "ground": mode, "include_contested": include_contested}
    if ground is None or ground.is_empty:
        where = "outside its home" if mode == "abroad" else "at all"
        return empty_body(v, f"{side} holds no ground {where} in this version.", **members)
    rep = find_necks(**kw, alert_width_m=alert_width_m)
    fc = rep.to_geojson()
    return orjson.dumps(
        {
            "type": "FeatureCollection",
            "version": v.version_id,
            "time": iso(v.valid_time),
            **members,
            "mode": rep.mode,
            "rule": rep.rule,
            "ground_km2": round(float(rep.ground_km2 or area_km2(ground)), 3),
            "n_necks": len(rep.necks),
            "n_pockets": len(rep.pockets),
            # the row of `frontline corridors --from/--to`, so a series can be read from the store
            "series": plain(rep.summary(SERIES_MIN_GROUND_SHARE)),
            "features": plain(fc["features"]),
        }
    )


def codes_body(codes: np.ndarray, labels: Sequence[str | None]) -> bytes:
    """JSON bytes of a gazetteer's status codes: ``{"labels": [...], "n": N, "codes": "0120…"}``.

    One digit per place (compresses to a few bytes per hundred places); a
    list of integers when a code is above 9.
    """
    c = np.asarray(codes, dtype=np.int16)
    if len(c) == 0 or (c.min() >= 0 and c.max() <= 9):
        text: Any = (c.astype(np.uint8) + ord("0")).tobytes().decode("ascii")
    else:
        text = c.tolist()
    return orjson.dumps({"labels": list(labels), "n": int(len(c)), "codes": text})


def codes_from_body(body: bytes) -> tuple[np.ndarray, tuple[str | None, ...]]:
    """``(codes int8, labels)`` from :func:`codes_body`'s bytes.

    Raises
    ------
    ValueError
        When the body is not such an object or its length disagrees with ``n``.
    """
    obj = orjson.loads(body)
    if not isinstance(obj, dict) or "codes" not in obj or "labels" not in obj:
        raise ValueError("a stored settlements result is not a codes object")
    raw = obj["codes"]
    if isinstance(raw, str):
        codes = (np.frombuffer(raw.encode("ascii"), dtype=np.uint8) - ord("0")).astype(np.int8)
    else:
        codes = np.asarray(raw, dtype=np.int8)
    if len(codes) != obj.get("n", len(codes)):
        raise ValueError(f"a stored settlements result holds {len(codes)} codes, not {obj['n']}")
    return codes, tuple(obj["labels"])


# --------------------------------------------------------------------------
# Parameter keys and the jobs of a store
# --------------------------------------------------------------------------


def corridor_params(
    side: str, ground: str = "abroad", include_contested: bool = False, alert_width_m: float = 1000.0
) -> str:
    """The ``params_key`` of a corridors result."""
    return params_key(
        side=side, ground=ground, include_contested=bool(include_contested), alert_width_m=float(alert_width_m)
    )


def settlements_params(stamp: str) -> str:
    """The ``params_key`` of the status codes of the gazetteer imported with ``stamp``."""
    return params_key(gazetteer=stamp)


def _gazetteer_stamp(store) -> str | None:
    from ..store.reference import SETTLEMENTS, reference_info

    info = reference_info(store, SETTLEMENTS)
    return (info or {}).get("stamp")


def jobs_for(store, what: Sequence[str] = WHATS) -> list[tuple[str, str]]:
    """``(what, params_key)`` of every result to materialise per version of this store.

    Settlements only when the store holds a gazetteer.
    """
    unknown = [w for w in what if w not in WHATS]
    if unknown:
        raise ValueError(f"Unknown analysis {unknown[0]!r}; choose from {', '.join(WHATS)}.")
    jobs: list[tuple[str, str]] = []
    if "contact-line" in what:
        jobs.append(("contact-line", ""))
    if "corridors" in what:
        jobs += [("corridors", corridor_params(s, **CORRIDOR_DEFAULTS)) for s in store.sides]
    if "settlements" in what:
        stamp = _gazetteer_stamp(store)
        if stamp:
            jobs.append(("settlements", settlements_params(stamp)))
    return jobs


def _compute_one(store, vc, v, what: str, pkey: str) -> bytes:
    if what == "contact-line":
        return contact_line_body(vc, v)
    if what == "corridors":
        side = dict(p.split("=", 1) for p in pkey.split("&"))["side"]
        return corridors_body(
            vc,
            v,
            side,
            CORRIDOR_DEFAULTS["ground"],
            CORRIDOR_DEFAULTS["include_contested"],
            CORRIDOR_DEFAULTS["alert_width_m"],
        )
    if what == "settlements":
        from ..store.reference import load_settlements
        from .settlements import status_on_control

        gaz = load_settlements(store)
        if gaz is None:
            raise ValueError("the store holds no gazetteer any more")
        codes, labels = status_on_control(vc, (np.asarray(gaz.lon, dtype=float), np.asarray(gaz.lat, dtype=float)))
        return codes_body(codes, labels)
    raise ValueError(f"Unknown analysis {what!r}")


@dataclass
class Outcome:
    """What happened to one result of one version."""

    version_id: str
    what: str
    params_key: str
    status: str  # computed, skipped, failed
    seconds: float = 0.0
    reason: str = ""
    revision: int | None = None


def compute_version(
    store,
    source: str,
    version_id: str,
    jobs: Sequence[tuple[str, str]],
) -> tuple[list[ResultRow], list[Outcome]]:
    """Compute the given results of one version, read in one snapshot of the store.

    Parameters
    ----------
    store
        An open store (read-only is fine).
    source, version_id
        The version; its current revision is read here.
    jobs
        ``(what, params_key)`` pairs (:func:`jobs_for`).

    Returns
    -------
    rows, outcomes
        The rows to store, and one outcome per job (``computed`` or
        ``failed`` with the reason); never raises for an analysis' failure.
    """
    from ..state import version_control

    rows: list[ResultRow] = []
    out: list[Outcome] = []
    t0 = time.perf_counter()
    try:
        with store.snapshot():  # one snapshot: the revision read and the content are the same
            v = store.version(source, version_id)
            if v is None:
                raise ValueError(f"version {version_id} is no longer in the store")
            stamp = _gazetteer_stamp(store)
            vc = version_control(store, v)
            base_s = time.perf_counter() - t0  # reading the partition: shared by the jobs
            for what, pkey in jobs:
                t1 = time.perf_counter()
                try:
                    if what == "settlements" and pkey != settlements_params(stamp or ""):
                        raise ValueError("the gazetteer was re-imported meanwhile: run recompute again")
                    body = _compute_one(store, vc, v, what, pkey)
                except Exception as exc:  # noqa: BLE001 - reported per version; the rest goes on
                    out.append(
                        Outcome(version_id, what, pkey, "failed", time.perf_counter() - t1, _reason(exc), v.revision)
                    )
                    continue
                rows.append(ResultRow(what, pkey, v.source, v.version_id, v.revision, _rules()[what], body))
                compact = series_result(rows[-1])  # kept next to it: series read small rows
                if compact is not None:
                    rows.append(compact)
                out.append(
                    Outcome(
                        version_id,
                        what,
                        pkey,
                        "computed",
                        time.perf_counter() - t1 + base_s / max(len(jobs), 1),
                        revision=v.revision,
                    )
                )
    except Exception as exc:  # noqa: BLE001 - the version itself cannot be read: every job fails
        reason = _reason(exc)
        return [], [Outcome(version_id, w, p, "failed", time.perf_counter() - t0, reason) for w, p in jobs]
    return rows, out


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------
# Compact series rows, kept next to the results whose body carries a series row
# --------------------------------------------------------------------------

#: The analyses whose body has a ``series`` member; each is also stored as ``<what>.series`` (that member
#: only), so a series over every version reads a few hundred bytes a version, not whole bodies (a contact
#: line's is ~24 KiB compressed: 10 ms a version to read and parse, 14 s for the full archive).
SERIES_OF = ("contact-line", "corridors")


def series_what(what: str) -> str:
    """The ``what`` of the compact series rows of ``what`` (``contact-line.series``)."""
    return what + ".series"


def series_result(row: ResultRow) -> ResultRow | None:
    """The compact series row of a stored result (same version, revision and rule), or None when it has none."""
    if row.what not in SERIES_OF:
        return None
    series = orjson.loads(row.body).get("series")
    return ResultRow(
        series_what(row.what), row.params_key, row.source, row.version_id, row.revision, row.rule, orjson.dumps(series)
    )


def backfill_series(store, versions: Sequence[Any], jobs: Sequence[tuple[str, str]], batch: int = 256) -> int:
    """Store the compact series rows that results stored before them lack (read from their bodies); returns how many.

    Cheap next to computing (a body is read, not recomputed), and run by
    :func:`materialise` before anything else, so stores materialised by an
    older version gain fast series without a ``--force``.
    """
    written = 0
    reader: ResultReader | None = None
    try:
        for w, p in jobs:
            if w not in SERIES_OF:
                continue
            for src in {v.source for v in versions}:
                full = current_keys(store, w, p, _rules()[w], src)
                compact = current_keys(store, series_what(w), p, _rules()[w], src)
                need = [
                    v
                    for v in versions
                    if v.source == src
                    and full.get(v.version_id) == v.revision
                    and compact.get(v.version_id) != v.revision
                ]
                if need and reader is None:
                    reader = ResultReader(store.path)
                rows: list[ResultRow] = []
                for v in need:
                    body = reader.get(w, p, v, _rules()[w]) if reader is not None else None
                    got = (
                        None
                        if body is None
                        else series_result(ResultRow(w, p, src, v.version_id, v.revision, _rules()[w], body))
                    )
                    if got is not None:
                        rows.append(got)
                    if len(rows) >= batch:
                        written += put_results(store, rows)
                        rows = []
                if rows:
                    written += put_results(store, rows)
    finally:
        if reader is not None:
            reader.close()
    return written


# --------------------------------------------------------------------------
# Series read from the store
# --------------------------------------------------------------------------

#: ``off`` (or 0, no, false) makes readers ignore stored results (benchmarks, debugging).
STORED_ENV = "FRONTLINE_STORED_RESULTS"


def stored_results_on() -> bool:
    """False when ``$FRONTLINE_STORED_RESULTS`` turns stored results off."""
    return os.environ.get(STORED_ENV, "on").strip().lower() not in ("0", "off", "no", "false")


def stored_series(store, what: str, pkey: str, versions: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """``{version id: series row}`` of the versions whose stored result is current (the web's rule).

    Read through a :class:`~frontline.store.results.ResultReader` of its own:
    a result counts only for the version's current revision and the code's
    rule version (:data:`RULES`); a body without a ``series`` member (a side
    holding no ground) is left to compute.

    Parameters
    ----------
    store
        An open store (read-only is fine).
    what, pkey
        The analysis and its parameters.
    versions
        The versions wanted.

    Returns
    -------
    dict
        Empty when stored results are off or none is stored.
    """
    if not stored_results_on() or not stored_count(store, what, pkey, rule=_rules()[what]):
        return {}
    versions = list(versions)
    rule = _rules()[what]
    reader = ResultReader(store.path)
    try:  # a query or two for the whole series, not two per version
        compact = reader.get_many(series_what(what), pkey, versions, rule) if what in SERIES_OF else {}
        rest = [v for v in versions if str(v.version_id) not in compact]
        whole = reader.get_many(what, pkey, rest, rule) if rest else {}
    finally:
        reader.close()
    out: dict[str, dict[str, Any]] = {}
    for v in versions:
        vid = str(v.version_id)
        if vid in compact:  # the series member alone (null: a side holding no ground)
            series = orjson.loads(compact[vid])
        elif vid in whole:  # a result stored before the compact rows: its whole body
            series = orjson.loads(whole[vid]).get("series")
        else:
            continue
        if series is not None:
            out[v.version_id] = series
    return out


def contact_line_series_stored(
    store, start=None, end=None, *, every: str | None = None, source: str | None = None, progress: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """As :func:`~frontline.analysis.contact_line.contact_line_series` (no regions), stored rows where current.

    Parameters
    ----------
    store
        An open store.
    start, end
        Time range; all versions when None.
    every
        ``day``, ``week`` or ``month``: the last version of each period.
    source
        Source name.
    progress
        Show a progress bar for the rows computed.

    Returns
    -------
    rows, n_stored
        The series rows (the same as computed ones, jumps explained) and how
        many came from the store.
    """
    from .contact_line import front_series

    # one reading of the stored rows, shared with ``frontline contact-line`` (the rule's rows, current revisions)
    rule = _rules()["contact-line"] if stored_results_on() else None
    return front_series(store, start, end, every=every, source=source, progress=progress, rule=rule)


def stored_codes(store, versions: Sequence[Any], stamp: str | None = None) -> dict[str, np.ndarray]:
    """``{version id: status codes}`` of the store's gazetteer, for the versions whose stored codes are current.

    The codes are re-coded into ``[None, *store.sides, "contested"]`` (the
    labels :func:`settlement_matrix` uses), whatever order a body lists.

    Parameters
    ----------
    store
        An open store (read-only is fine).
    versions
        The versions wanted.
    stamp
        The gazetteer's import stamp (default: the store's).

    Returns
    -------
    dict
        Empty when stored results are off, the store holds no gazetteer or no codes are stored.
    """
    from .settlements import CONTESTED, recoded

    stamp = stamp or _gazetteer_stamp(store)
    if not stamp or not stored_results_on():
        return {}
    pkey = settlements_params(stamp)
    if not stored_count(store, "settlements", pkey, rule=_rules()["settlements"]):
        return {}
    labels: list[str | None] = [None, *store.sides, CONTESTED]
    reader = ResultReader(store.path)
    try:  # one query for every version, not one each
        bodies = reader.get_many("settlements", pkey, versions, _rules()["settlements"])
    finally:
        reader.close()
    out: dict[str, np.ndarray] = {}
    for v in versions:
        body = bodies.get(str(v.version_id))
        if body is not None:
            codes, labs = codes_from_body(body)
            out[v.version_id] = recoded(codes, labs, labels, np.int8)
    return out


def settlement_matrix(
    store, versions: Sequence[Any], idx: np.ndarray | None = None, *, progress: bool = False
) -> tuple[np.ndarray, list[str | None], int]:
    """Status of the store's gazetteer at each version (versions × places), stored codes where current.

    The versions without current stored codes are computed
    (:func:`~frontline.analysis.settlements.status_on_control`'s rule, the one
    the stored codes were made with, through a
    :class:`~frontline.analysis.settlements.StatusSeries`: after the first,
    a version re-tests only the places near tiles that changed since the
    version computed before it), so the matrix is the same either way.

    Parameters
    ----------
    store
        An open store holding a gazetteer.
    versions
        The versions, in the order wanted.
    idx
        Indices of the places wanted (default: all).
    progress
        A progress bar for the versions computed.

    Returns
    -------
    matrix, labels, n_stored
        ``labels[matrix[t, i]]`` (None: outside; the sides; ``contested``),
        and how many rows came from the store.

    Raises
    ------
    ValueError
        When the store holds no gazetteer.
    """
    from .._progress import progress_bar
    from ..store.reference import load_settlements
    from .settlements import CONTESTED, StatusSeries, recoded

    gaz = load_settlements(store)
    if gaz is None:
        raise ValueError(f"The store {store.path} holds no gazetteer.")
    sel = np.arange(len(gaz)) if idx is None else np.asarray(idx, dtype=np.int64)
    lon, lat = np.asarray(gaz.lon, dtype=float)[sel], np.asarray(gaz.lat, dtype=float)[sel]
    labels: list[str | None] = [None, *store.sides, CONTESTED]
    have = stored_codes(store, versions)
    mat = np.zeros((len(versions), len(sel)), dtype=np.int8)
    todo = sum(v.version_id not in have for v in versions)
    series: StatusSeries | None = None  # made at the first version to compute; then only what changed is tested
    with progress_bar(todo, "settlement status", enabled=progress and todo > 5) as advance:
        for t, v in enumerate(versions):
            got = have.get(v.version_id)
            if got is not None and len(got) == len(gaz):
                mat[t] = got[sel]
                continue
            series = series or StatusSeries(store, (lon, lat))
            mat[t] = recoded(series.codes(v), series.labels, labels, np.int8)
            advance()
    return mat, labels, sum(v.version_id in have for v in versions)


def settlement_changes_series(
    store, start=None, end=None, *, every: str | None = None, source: str | None = None, progress: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """Settlements whose status changed, per version (or per period) vs the one before: counts by new status.

    Derived from the per-version status codes (stored where current), so a
    revised version changes its own row and its successor's as soon as its
    codes are recomputed: nothing else is kept.

    Parameters
    ----------
    store
        An open store holding a gazetteer.
    start, end
        Time range; all versions when None.
    every
        ``day``, ``week`` or ``month``: the last version of each period,
        compared with the last of the period before.
    source
        Source name.
    progress
        A progress bar for the versions computed.

    Returns
    -------
    rows, n_stored
        One row per version after the first: ``time``, ``version_id``,
        (``period``), ``previous_version_id``, ``changed`` and ``to_<label>``
        counts (``to_outside`` for None); how many rows of codes were stored.
    """
    from ..state import versions_between
    from ..times import check_period
    from .contact_line import pick_periods

    check_period(every)
    picked = pick_periods(versions_between(store, start, end, source), every)
    mat, labels, n_stored = settlement_matrix(store, [v for _, v in picked], progress=progress)
    rows: list[dict[str, Any]] = []
    for t in range(1, len(picked)):
        period, v = picked[t]
        moved = mat[t] != mat[t - 1]
        counts = np.bincount(mat[t][moved], minlength=len(labels))
        row: dict[str, Any] = {"time": iso(v.valid_time), "version_id": v.version_id}
        if period is not None:
            row["period"] = period
        row |= {"previous_version_id": picked[t - 1][1].version_id, "changed": int(moved.sum())}
        row |= {f"to_{lab or 'outside'}": int(counts[k]) for k, lab in enumerate(labels)}
        rows.append(row)
    return rows, n_stored


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------


@dataclass
class MaterialiseReport:
    """What a :func:`materialise` run did: one outcome per version and result."""

    outcomes: list[Outcome] = field(default_factory=list)
    elapsed_s: float = 0.0
    workers: int = 1
    stored_bytes: int = 0
    backfilled: int = 0  # compact series rows read from results stored before them (not computed)

    def count(self, status: str, what: str | None = None) -> int:
        """Outcomes with this status (of one analysis when given)."""
        return sum(1 for o in self.outcomes if o.status == status and (what is None or o.what == what))

    @property
    def failed(self) -> list[Outcome]:
        """The failed outcomes, in version order."""
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> list[dict[str, Any]]:
        """One row per analysis and parameters: computed, skipped, failed, median and total seconds."""
        keys: dict[tuple[str, str], list[Outcome]] = {}
        for o in self.outcomes:
            keys.setdefault((o.what, o.params_key), []).append(o)
        rows = []
        for (what, pkey), os_ in keys.items():
            done = [o.seconds for o in os_ if o.status == "computed"]
            rows.append(
                {
                    "what": what,
                    "params": pkey or "-",
                    "computed": sum(o.status == "computed" for o in os_),
                    "skipped": sum(o.status == "skipped" for o in os_),
                    "failed": sum(o.status == "failed" for o in os_),
                    "median_s": round(float(np.median(done)), 3) if done else None,
                    "total_s": round(float(sum(done)), 1),
                }
            )
        return rows

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary rows, results computed, compact rows backfilled, failures, seconds, workers."""
        return {
            "summary": self.summary(),
            "computed": self.count("computed"),
            "backfilled": self.backfilled,
            "elapsed_s": round(self.elapsed_s, 2),
            "workers": self.workers,
            "failed": [
                {"version_id": o.version_id, "what": o.what, "params": o.params_key, "reason": o.reason}
                for o in self.failed
            ],
        }


def _work(path: str, job: tuple[str, str, list[tuple[str, str]]]) -> tuple[list[ResultRow], list[Outcome]]:
    """One version's results, computed on a worker from the store at ``path`` (opened read-only there)."""
    from .batch import worker_store

    source, version_id, jobs = job
    try:
        store = worker_store(path)
    except Exception as exc:  # noqa: BLE001 - a worker that cannot read the store reports it per version
        reason = f"the worker cannot open {path}: {_reason(exc)}"
        return [], [Outcome(version_id, w, p, "failed", 0.0, reason) for w, p in jobs]
    return compute_version(store, source, version_id, jobs)


def _todo(
    store, versions: Sequence[Any], jobs: list[tuple[str, str]], force: bool, report: MaterialiseReport
) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """``(source, version id, jobs)`` still to compute; the results already current go in ``report`` as skipped."""
    have = (
        {}
        if force
        else {
            (w, p, src): current_keys(store, w, p, _rules()[w], src)
            for w, p in jobs
            for src in {v.source for v in versions}
        }
    )
    todo: list[tuple[str, str, list[tuple[str, str]]]] = []
    for v in versions:
        need = []
        for w, p in jobs:
            if not force and have.get((w, p, v.source), {}).get(v.version_id) == v.revision:
                report.outcomes.append(Outcome(v.version_id, w, p, "skipped", revision=v.revision))
            else:
                need.append((w, p))
        if need:
            todo.append((v.source, v.version_id, need))
    return todo


def materialise(
    store,
    versions: Sequence[Any] | None = None,
    what: Sequence[str] = WHATS,
    *,
    workers: int | None = None,
    progress: bool = True,
    force: bool = False,
    batch: int = 16,
    on_batch: Callable[[int], None] | None = None,
    scheduler: str | None = None,
) -> MaterialiseReport:
    """Compute and store the per-version results the web map needs.

    Parameters
    ----------
    store
        An open, writable store.
    versions
        The versions (``VersionInfo``); all of the default source when None.
    what
        Which analyses (:data:`WHATS`).
    workers
        Worker processes (each opens the store read-only); default the CPU
        count, at most 4; 1 computes in this process.
    progress
        Show a progress bar (stderr).
    force
        Recompute results already stored for the current revision and rule.
    batch
        Versions per write transaction.
    on_batch
        Called with the number of rows after each batch is committed.
    scheduler
        A Dask scheduler (``tcp://HOST:PORT``; default ``$FRONTLINE_SCHEDULER``):
        the versions are computed on its workers, which open the store by
        its path (a path they can all read). None: local worker processes.

    Returns
    -------
    MaterialiseReport
        One outcome per version and result: ``computed``, ``skipped``
        (already current) or ``failed`` (with the reason).
    """
    from .._progress import progress_bar
    from .batch import scheduler_address

    t0 = time.perf_counter()
    if store.readonly:
        raise ValueError(f"{store.path} is open read-only: results cannot be stored.")
    if versions is None:
        versions = store.versions()
    jobs = jobs_for(store, what)
    report = MaterialiseReport()
    report.backfilled = backfill_series(store, versions, jobs)
    todo = _todo(store, versions, jobs, force, report)
    address = scheduler_address(scheduler)
    workers = workers or min(os.cpu_count() or 1, 4)
    workers = max(1, min(workers, len(todo)))
    report.workers = workers
    pending: list[ResultRow] = []
    n_pending = 0

    def flush() -> None:
        nonlocal pending, n_pending
        if pending:
            put_results(store, pending)
            report.stored_bytes += sum(len(r.body) for r in pending)
            if on_batch is not None:
                on_batch(len(pending))
        pending, n_pending = [], 0

    def take(res: tuple[list[ResultRow], list[Outcome]]) -> None:
        nonlocal n_pending
        rows, outs = res
        pending.extend(rows)
        report.outcomes.extend(outs)
        n_pending += 1
        if n_pending >= batch:
            flush()

    with progress_bar(len(todo), "Recomputing", enabled=progress and bool(todo)) as advance:
        if workers <= 1 and address is None:
            for job in todo:
                take(compute_version(store, *job))
                advance()
        elif todo:
            report.workers = _run_on_workers(store, todo, workers, address, take, advance)
        flush()
    order = {v.version_id: i for i, v in enumerate(versions)}
    report.outcomes.sort(key=lambda o: (order.get(o.version_id, 0), o.what, o.params_key))
    report.elapsed_s = time.perf_counter() - t0
    return report


def _run_on_workers(
    store,
    todo: list[tuple[str, str, list[tuple[str, str]]]],
    workers: int,
    address: str | None,
    take: Callable[[tuple[list[ResultRow], list[Outcome]]], None],
    advance: Callable[[], None],
) -> int:
    """Compute ``todo`` on a back-end (a local pool, or the Dask cluster at ``address``); returns its workers.

    Each result is handed to ``take`` (in this process: the writes stay
    here) as soon as it is done.
    """
    from .batch import open_backend

    if address is None:
        from ..store import theatre_of

        _ = theatre_of(store).tiled  # tile the homes once, before forking: workers inherit them
    backend = open_backend(workers, address)
    try:
        path = str(store.path)
        futures = [backend.submit(_work, path, job) for job in todo]
        for fut in backend.as_completed(futures):
            take(fut.result())
            advance()
    finally:
        backend.close()
    return backend.workers
