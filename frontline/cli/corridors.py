"""``frontline corridors``: necks (narrow corridors) and pockets of a side's ground, at a time or over time."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import STORE_OPT, _fail, _open, _print_json, _table, console


def _ground(st, v, side: str, scope: str):
    """(held ground, home, contested) of ``side`` in a version; ``scope`` abroad = ground outside home only."""
    from ..state import version_control

    vc = version_control(st, v)
    if side not in vc.sides:
        raise ValueError(f"Unknown side {side!r}; the store's sides are {', '.join(vc.sides)}.")
    held = vc.abroad(side) if scope == "abroad" else vc.held(side)
    if held.is_empty:
        where = "outside its home" if scope == "abroad" else "anywhere"
        raise ValueError(f"Side {side!r} holds no ground {where} at {v.version_id} "
                         f"({_iso(v.valid_time)}); nothing to analyse.")
    return held, vc.theatre.homes[side], vc.contested


def _iso(t):
    from ..model import iso

    return iso(t)


@click.command()
@STORE_OPT
@click.option("--at", default=None, help="One time (ISO or epoch seconds); the latest version when nothing is given.")
@click.option("--from", "start", default=None, help="Start of a series (narrowest neck per version).")
@click.option("--to", "end", default=None, help="End of a series.")
@click.option("--every", type=click.Choice(["day", "week", "month"]), default=None,
              help="Series: one version per period (the last).")
@click.option("--side", required=True, help="Whose ground (ua, ru).")
@click.option("--scope", type=click.Choice(["abroad", "all"]), default="abroad", show_default=True,
              help="abroad: the side's ground outside its home (salients, with home as the rear); "
                   "all: all its ground (a whole country: slower).")
@click.option("--include-contested", is_flag=True, help="Analyse held + contested ground instead of held only.")
@click.option("--threshold-m", default=1000.0, show_default=True, help="Flag necks narrower than this.")
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False), default=None,
              help="Write neck segments and pockets as GeoJSON (with --at).")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
def corridors(store_path, at, start, end, every, side, scope, include_contested, threshold_m, geojson_path, source,
              as_json):
    """Necks and pockets of a side's ground: width, place, length, the parts on each side.

    \b
    frontline corridors --at 2025-03-08 --side ua --json
    frontline corridors --at 2025-03-08 --side ua --include-contested --geojson necks.geojson
    frontline corridors --from 2024-08-06 --to 2025-03-31 --every week --side ua
    """
    from ..analysis.area import parse_time
    from ..analysis.corridors import find_necks
    from ..state import resolve_version

    st = _open(store_path, readonly=True)
    kw = dict(include_contested=include_contested, alert_width_m=threshold_m)
    try:
        if at and (start or end or every):
            raise ValueError("Give either --at or --from/--to/--every, not both.")
        if start or end or every:
            if geojson_path:
                raise ValueError("--geojson writes one time's necks: use --at.")
            t0, t1 = parse_time(start), parse_time(end)
            versions = [v for v in st.versions(source)
                        if (t0 is None or v.valid_time >= t0) and (t1 is None or v.valid_time <= t1)]
            if every:
                from ..analysis.area import _period_key
                from ..model import utc

                last = {}
                for v in versions:
                    last[_period_key(utc(v.valid_time), every)] = v
                versions = list(last.values())
            if not versions:
                raise ValueError("No version in that range.")
            rows = []
            for v in versions:
                row = {"time": _iso(v.valid_time), "version_id": v.version_id}
                try:
                    held, home, contested = _ground(st, v, side, scope)
                    rep = find_necks(held, home=home, contested=contested, **kw)
                except ValueError as exc:
                    rows.append(row | {"width_m": None, "n_necks": 0, "n_below_threshold": 0, "location": None,
                                       "ground_km2": 0.0, "mode": None, "error": str(exc)})
                    continue
                narrow = min(rep.necks, key=lambda n: n.width_m) if rep.necks else None
                rows.append(row | {
                    "width_m": round(narrow.width_m, 1) if narrow else None,
                    "n_necks": len(rep.necks), "n_below_threshold": sum(n.below_threshold for n in rep.necks),
                    "location": [round(narrow.location.x, 5), round(narrow.location.y, 5)] if narrow else None,
                    "cut_off_km2": round(narrow.parts[0].area_km2, 3) if narrow else None,
                    "ground_km2": round(rep.ground_km2, 3), "mode": rep.mode})
            if as_json:
                _print_json(rows)
            else:
                _table([r | {"location": "" if not r["location"] else f"{r['location'][0]:.3f}, {r['location'][1]:.3f}"}
                        for r in rows], ["time", "width_m", "n_necks", "n_below_threshold", "cut_off_km2",
                                         "location", "ground_km2"],
                       title=f"Narrowest neck of {side}'s ground ({scope}) over time")
            return
        v = resolve_version(st, at, source)
        held, home, contested = _ground(st, v, side, scope)
        rep = find_necks(held, home=home, contested=contested, **kw)
    except ValueError as exc:
        _fail(exc)
    if geojson_path:
        Path(geojson_path).write_text(json.dumps(rep.to_geojson(), ensure_ascii=False))
    if as_json:
        _print_json({"time": _iso(v.valid_time), "version_id": v.version_id, "side": side, "scope": scope}
                    | rep.to_dict())
        return
    rows = [{"rank": n.rank, "type": n.type, "width_m": round(n.width_m), "length_m": round(n.length_m),
             "location": f"{n.location.x:.4f}, {n.location.y:.4f}", "cut_off_km2": n.parts[0].area_km2,
             "cut_off_share": f"{n.parts[0].share:.0%}", "alert": "below threshold" if n.below_threshold else ""}
            for n in rep.necks]
    _table(rows, ["rank", "type", "width_m", "length_m", "location", "cut_off_km2", "cut_off_share", "alert"],
           title=f"Necks of {side}'s ground ({scope}, {rep.mode}) at {_iso(v.valid_time)}", caption=rep.rule)
    if rep.pockets:
        _table([{"area_km2": p.area_km2, "centroid": f"{p.centroid.x:.4f}, {p.centroid.y:.4f}"} for p in rep.pockets],
               ["area_km2", "centroid"], title="Pockets (no connection to the main body or home)")
    if geojson_path:
        console.print(f"Wrote {geojson_path}")
