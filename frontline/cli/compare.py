"""``frontline compare``: two sources side by side: where they disagree, and who showed a change first."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InputError
from ._common import (
    STORE_OPT,
    _print_json,
    _table,
    at_option,
    choice_option,
    console,
    from_option,
    guard,
    one_time_or_series,
    path_option,
    to_option,
)
from .sources import footer

REGION_HELP = "theatre | ukraine | russia | home:<side> | a polygon file (as `frontline area --region`)."


@click.command()
@STORE_OPT
@click.argument("a")
@click.argument("b")
@at_option("One time: where the two maps disagree (the latest versions when no range is given).")
@from_option("Start of a range: who showed each change first.")
@to_option("End of the range.")
@choice_option(
    "--every",
    choices=["day", "week", "month"],
    default=None,
    help="With a range: only the last version of each period (default: every version).",
)
@click.option("--region", default="theatre", show_default=True, help=REGION_HELP)
@click.option("--side", default="ru", show_default=True, help="With a range: whose gains are matched.")
@click.option("--max-lag", "max_lag", default=14.0, show_default=True, help="With a range: days a match may lag.")
@path_option("--geojson", "geojson_path", help="One time: write the disagreement (one feature per status pair).")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
@guard(store="read")
def compare(st, a, b, at, start, end, every, region, side, max_lag, geojson_path, as_json):
    """Compare sources A and B: km² where they disagree, per pair of statuses, or the lag of each change.

    With --at (or nothing): each source's version valid then; the km² where A
    says one status and B another (geodesic), where they agree, and the
    settlements whose status differs. With --from/--to: each ground gain of
    --side in A between consecutive versions matched to the same ground gained
    in B; the lag is B's time minus A's, in days (positive: A showed it first).

    \b
    frontline compare deepstate mirror --at 2025-03-10
    frontline compare deepstate mirror --at 2025-03-10 --region russia --geojson diff.geojson
    frontline compare deepstate mirror --from 2025-03-01 --to 2025-03-31 --every day
    """
    if one_time_or_series(at, start, end, every):
        if geojson_path:
            raise InputError("--geojson writes one time's disagreement; leave out --from/--to/--every.")
        if not start or not end:
            raise InputError("A range needs both --from and --to.")
        _lags(st, a, b, start, end, every, side, max_lag, as_json)
        return
    _one_time(st, a, b, None if at == "latest" else at, region, geojson_path, as_json)


def _one_time(st, a, b, at, region, geojson_path, as_json) -> None:
    from ..analysis.compare import compare_at

    rep = compare_at(st, a, b, at, region=region)
    if geojson_path:
        Path(geojson_path).write_text(json.dumps(rep.to_geojson(), ensure_ascii=False))
    d = rep.to_dict()
    if as_json:
        _print_json(d)
        return
    console.print(f"A = {a} {d['a']['time']}, B = {b} {d['b']['time']}; region {d['region']}; km², geodesic")
    shown = [r for r in d["pairs"] if r["km2"] >= 0.05]  # the table's one decimal; the JSON keeps every pair
    _table(shown, ["a", "b", "km2"], title="Where A and B disagree")
    _table(d["agreement"], ["status", "a_km2", "b_km2", "agree_km2"], title="Per status")
    _table([d["totals"]], ["agree_km2", "disagree_km2"], title="Totals")
    if d["settlements"]:
        _table(
            [_shown(r) for r in d["settlements"][:50]],
            ["name", "a", "b", "population", "lon", "lat"],
            title="Settlements differing",
        )
    footer(st, [a, b])
    if geojson_path:
        console.print(f"Wrote {geojson_path}")


def _lags(st, a, b, start, end, every, side, max_lag, as_json) -> None:
    from ..analysis.compare import compare_lags

    rep = compare_lags(st, a, b, start, end, every=every, side=side, max_lag_days=max_lag)
    d = rep.to_dict()
    if as_json:
        _print_json(d)
        return
    cols = ["a_time", "b_time", "lag_days", "first", "a_km2", "overlap_km2", "lon", "lat"]
    _table([_shown(r) for r in d["ground"]], cols, title=f"Gains of {side} seen by {a} and {b} (lag = {b} − {a}, days)")
    _table(
        [_shown(r) for r in d["per_period"]],
        ["period", "matched", "mean_lag_days", "a_first", "b_first", "same"],
        title="Per period",
    )
    console.print(
        f"Mean lag {d['mean_lag_days']} days; gains seen only by {a}: {d['unmatched_a']}, only by {b}: "
        f"{d['unmatched_b']}"
    )
    if d["settlements"]:
        _table(
            [_shown(r) for r in d["settlements"]],
            ["name", "to", "a_time", "b_time", "lag_days", "first"],
            title="Settlements",
        )
    footer(st, [a, b])


def _shown(row: dict) -> dict:
    """A row as the tables print it: places to 4 decimals, lags to 2 (the tables' own default is one)."""
    out = dict(row)
    for k, digits in (("lon", 4), ("lat", 4), ("lag_days", 2), ("mean_lag_days", 2)):
        if isinstance(out.get(k), float):
            out[k] = f"{out[k]:.{digits}f}"
    return out
