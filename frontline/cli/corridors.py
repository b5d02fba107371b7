"""``frontline corridors``: necks (narrow corridors) and pockets of a side's ground, at a time or over time.

Necks are ranked by the ground at stake (km² beyond the neck, weighted by
narrowness) and only ground facing the enemy or the grey zone counts: see
:mod:`frontline.analysis.corridors` and ``docs/corridors.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from shapely.errors import GEOSException

from ..errors import InputError
from ._common import (
    STORE_OPT,
    _print_json,
    _table,
    choice_option,
    console,
    guard,
    one_time_or_series,
    path_option,
    series_options,
    stored_note,
)


def _ground(st, v, side: str, scope: str, include_contested: bool, with_control: bool = False):
    """Keyword arguments of ``find_necks`` for ``side`` in version ``v`` (see ``corridor_inputs``).

    With ``with_control``: ``(version control, keyword arguments)``.
    """
    from ..analysis.corridors import corridor_inputs
    from ..state import version_control

    vc = version_control(st, v)
    if side not in vc.sides:
        raise InputError(f"Unknown side {side!r}; the store's sides are {', '.join(vc.sides)}.")
    kw = corridor_inputs(vc, side, scope, include_contested)
    if kw["held"].is_empty:
        raise InputError(_no_ground(side, scope, v))
    return (vc, kw) if with_control else kw


def _no_ground(side: str, scope: str, v) -> str:
    """Why a version of a side holding no such ground has no necks (a series row's ``error``)."""
    where = "outside its home" if scope == "abroad" else "anywhere"
    return f"Side {side!r} holds no ground {where} at {v.version_id} ({_iso(v.valid_time)}); nothing to analyse."


def _place(loc) -> str:
    """``51.1212N 35.1762E`` for a [lon, lat] pair."""
    return "" if not loc else f"{loc[1]:.4f}N {loc[0]:.4f}E"


def _banks(banks) -> str:
    return "" if not banks else " | ".join(banks)


def _iso(t):
    from ..model import iso

    return iso(t)


SCOPE_HELP = (
    "abroad: the side's ground outside its home (salients, with home as the rear); "
    "all: all its ground (a whole country: slower)."
)


@click.command()
@STORE_OPT
@series_options(
    "One time; the latest version when nothing is given.",
    "Start of a series (per version, the neck with the most ground at stake).",
    "End of a series.",
    "Series: one version per period (the last).",
)
@click.option("--side", required=True, help="Whose ground (ua, ru).")
@choice_option("--scope", choices=["abroad", "all"], default="abroad", help=SCOPE_HELP)
@click.option("--include-contested", is_flag=True, help="Analyse held + contested ground instead of held only.")
@click.option("--threshold-m", default=1000.0, show_default=True, help="Flag necks narrower than this.")
@path_option("--geojson", "geojson_path", help="Write neck segments and pockets as GeoJSON (with --at).")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
@guard(store="read")
def corridors(st, at, start, end, every, side, scope, include_contested, threshold_m, geojson_path, source, as_json):
    """Necks and pockets of a side's ground, ranked by the ground at stake beyond each neck.

    Each neck: width, place, length, the ground beyond it (km² and share of its
    salient) and what its banks face; only ground facing the enemy or the grey
    zone makes a neck or pocket. With --from/--to: per version the neck with
    the most ground at stake.

    \b
    frontline corridors --at 2025-03-08 --side ua --json
    frontline corridors --at 2025-03-08 --side ua --include-contested --geojson necks.geojson
    frontline corridors --from 2024-08-06 --to 2025-03-31 --every week --side ua
    """
    from ..analysis.corridors import find_necks
    from ..state import resolve_version

    kw = dict(alert_width_m=threshold_m)
    if one_time_or_series(at, start, end, every):
        if geojson_path:
            raise InputError("--geojson writes one time's necks: use --at.")
        versions = _series_versions(st, start, end, every, source)
        rows = _series_rows(st, versions, side, scope, include_contested, kw, progress=not as_json)
        if as_json:
            _print_json(rows)
        else:
            _print_series(rows, side, scope)
        return
    v = resolve_version(st, at, source)
    try:
        rep = find_necks(**_ground(st, v, side, scope, include_contested), **kw)
    except GEOSException as exc:
        raise InputError(
            f"Version {v.version_id} ({_iso(v.valid_time)}) could not be analysed: geometry error ({exc})."
        ) from None
    if geojson_path:
        Path(geojson_path).write_text(json.dumps(rep.to_geojson(), ensure_ascii=False))
    if as_json:
        _print_json(
            {"time": _iso(v.valid_time), "version_id": v.version_id, "side": side, "scope": scope} | rep.to_dict()
        )
        return
    _print_necks(rep, v, side, scope)
    if geojson_path:
        console.print(f"Wrote {geojson_path}")


def _series_versions(st, start, end, every, source) -> list:
    """The versions of a series: those from ``start`` to ``end``, the last of each period with ``every``."""
    from ..state import versions_between
    from ..times import last_per_period

    versions = versions_between(st, start, end, source)  # an empty range: an error naming the nearest versions
    if every:
        versions = list(last_per_period(versions, every).values())
    return versions


def _series_rows(
    st, versions, side: str, scope: str, include_contested: bool, kw: dict, *, progress: bool = False
) -> list[dict]:
    """Per version the neck with the most ground at stake; a version that cannot be analysed says why.

    Rows kept by ``frontline recompute`` are read (default parameters only);
    stderr says how many, and how many were computed (with a progress bar
    when ``progress``).
    """
    from ..analysis.contact_line import progress_bar
    from ..analysis.corridors import SERIES_MIN_GROUND_SHARE, corridor_key, error_row, find_necks

    rows: list[dict] = []
    seen: dict = {}
    defaults = _defaults(scope, include_contested, kw)
    stored = _stored_rows(st, versions, side) if defaults else {}
    stored_note(len(stored), len(versions), "corridors", hint=defaults and progress)
    todo = len(versions) - len(stored)
    with progress_bar(todo, "necks", progress and todo > 5) as advance:
        for v in versions:
            row = {"time": _iso(v.valid_time), "version_id": v.version_id}
            if v.version_id in stored:
                got = stored[v.version_id]  # None: stored as holding no such ground, said as if computed
                rows.append(row | (error_row(_no_ground(side, scope, v)) if got is None else got))
                continue
            advance()
            try:
                vc, inputs = _ground(st, v, side, scope, include_contested, with_control=True)
                key = corridor_key(vc, inputs)  # an unchanged salient is analysed once
                if key not in seen:
                    seen[key] = find_necks(**inputs, **kw).summary(SERIES_MIN_GROUND_SHARE)
            except ValueError as exc:
                rows.append(row | error_row(str(exc)))
                continue
            except GEOSException as exc:  # a drawing GEOS cannot take: say so, go on with the series
                rows.append(row | error_row(f"geometry error in this version ({exc})"))
                continue
            rows.append(row | seen[key])
    return rows


def _defaults(scope: str, include_contested: bool, kw: dict) -> bool:
    """Whether the parameters are those ``frontline recompute`` stores (other ones are always computed)."""
    from ..analysis.materialise import CORRIDOR_DEFAULTS as d

    return (scope, bool(include_contested), float(kw["alert_width_m"])) == (
        d["ground"],
        d["include_contested"],
        d["alert_width_m"],
    )


def _stored_rows(st, versions, side: str) -> dict[str, dict | None]:
    """``{version id: series row}`` kept by ``frontline recompute`` for the default parameters, in one query.

    None for a version stored as holding no ground abroad (``recompute`` keeps a note, no series row).
    """
    from ..analysis.materialise import CORRIDOR_DEFAULTS, RULES, corridor_params, stored_results_on
    from ..store.results import stored_series_members

    if not stored_results_on():
        return {}
    key = corridor_params(side, **CORRIDOR_DEFAULTS)
    return stored_series_members(st, "corridors", key, versions, rule=RULES["corridors"], nulls=True)


def _print_series(rows: list[dict], side: str, scope: str) -> None:
    """The series table: per version its width, ground cut off, type, banks and place."""
    from ..analysis.corridors import SERIES_MIN_GROUND_SHARE

    _table(
        [
            r
            | {
                "location": _place(r["location"]),
                "banks": _banks(r["banks"]),
                "cut_off_share": "" if r["cut_off_share"] is None else f"{r['cut_off_share']:.0%}",
                "type": r["type"]
                or ("error: " + r["error"] if r.get("error") else "small only" if r["n_necks"] else "no neck"),
            }
            for r in rows
        ],
        [
            "time",
            "width_m",
            "cut_off_km2",
            "cut_off_share",
            "type",
            "banks",
            "location",
            "n_necks",
            "ground_km2",
        ],
        title=f"Neck with the most ground at stake, {side}'s ground ({scope}) over time",
        caption=f"Per version the best-ranked neck holding at least {SERIES_MIN_GROUND_SHARE:.0%} of "
        f"the ground analysed (ground_km2): its width, the ground beyond it (cut_off_km2) and "
        f"that ground's share of its salient or component (cut_off_share), what its banks "
        f'face and where it is ("small only": every neck holds less). n_necks counts all '
        f"necks (up to 5 km wide) facing the enemy or the grey zone.",
    )


def _print_necks(rep, v, side: str, scope: str) -> None:
    """One time's necks, ranked, with what was left out, and its pockets."""
    rows = [
        {
            "rank": n.rank,
            "type": n.type,
            "width_m": round(n.width_m),
            "length_m": round(n.length_m),
            "location": _place([n.location.x, n.location.y]),
            "cut_off_km2": n.cut_off_km2,
            "cut_off_share": f"{n.cut_off_share:.0%}",
            "banks": _banks(n.banks),
            "alert": "below threshold" if n.below_threshold else "",
        }
        for n in rep.necks
    ]
    left = rep.left_out
    note = (
        f" Left out as facing no enemy or grey ground: {left['necks']} neck(s), {left['pockets']} pocket(s)."
        if left["necks"] or left["pockets"]
        else ""
    )
    _table(
        rows,
        ["rank", "type", "width_m", "length_m", "location", "cut_off_km2", "cut_off_share", "banks", "alert"],
        title=f"Necks of {side}'s ground ({scope}, {rep.mode}) at {_iso(v.valid_time)}, ranked by ground at stake",
        caption=rep.rule + note,
    )
    if not rep.necks:
        console.print("No neck.")
    if rep.pockets:
        _table(
            [
                {"area_km2": p.area_km2, "front_km": p.front_km, "centroid": _place([p.centroid.x, p.centroid.y])}
                for p in rep.pockets
            ],
            ["area_km2", "front_km", "centroid"],
            title="Pockets (no connection to the main body or home)",
        )
