"""``frontline claims``: the claims ledger — import, add, check against the map, list, history."""

from __future__ import annotations

import click

from ..errors import InputError
from ._common import STORE_OPT, _print_json, _table, console, guard, path_option, print_summary, time_option
from .sources import footer

_STATUS_STYLE = {
    "confirmed": "green",
    "premature": "yellow",
    "contradicted": "red",
    "pending": "cyan",
    "unresolved": "magenta",
    "no_data": "dim",
}


def _reading_cell(r: dict) -> str:
    """Which reading of "side's ground" a numeric claim fits (or that none does)."""
    d = r["detail"]
    if r["kind"] != "numeric" or "readings" not in d:
        return ""
    if d.get("reading"):
        more = [x for x in d.get("fits", []) if x != d["reading"]]
        pinned = " (pinned)" if d.get("reading_pinned") else ""
        return d["reading"] + pinned + (f" (also {', '.join(more)})" if more else "")
    if d.get("reading_pinned"):
        return f"{d['reading_pinned']} (pinned): does not fit"
    near = d.get("nearest_reading") or {}
    return f"none (nearest {near.get('reading')}: {near.get('computed', 0):.4g})" if near else "none"


def _rows(results: list[dict]) -> list[dict]:
    rows = []
    for r in results:
        d = r["detail"]
        val = ""
        if r["kind"] == "numeric" and d.get("computed") is not None:
            base = ""
            if d.get("baseline_km2") is not None and d.get("metric") in ("share", "share_lost"):
                whose = "claimant" if d.get("claimed_baseline_km2") else d.get("baseline")
                base = f" of {d['baseline_km2']:,.0f} km² ({whose})"
            val = f"claimed {d['claimed']:.4g} / map {d['computed']:.4g}{base} ({d.get('convention')})"
        elif d.get("share_held_latest") is not None:
            val = f"held {d['share_held_latest']:.0%} (IoU {d.get('iou_latest', 0):.2f})"
        elif r["status"] == "unresolved":
            res = d.get("resolution") or {}
            val = ", ".join(f"{c['name']} ({c['lon']:.3f},{c['lat']:.3f})" for c in res.get("candidates", [])[:3])
        if d.get("shown_before_claim") and d.get("note"):
            val = (val + "; " if val else "") + d["note"]
        rows.append(
            {
                "id": r.get("claim_id") if r.get("claim_id") is not None else "",
                "time": r["time"][:10],
                "claim": r["label"],
                "status": f"[{_STATUS_STYLE.get(r['status'], '')}]{r['status']}[/]",
                "lag (days)": "" if d.get("lag_days") is None else f"{d['lag_days']:.1f}",
                "reading": _reading_cell(r),
                "value": val,
            }
        )
    return rows


def _show(results, title):
    _table(
        _rows(results),
        ["id", "time", "claim", "status", "lag (days)", "reading", "value"],
        title=title,
        caption="confirmed: shown within the window (negative lag: the map showed it before the claim) · "
        "premature: shown only after it · contradicted: not shown when the window closed · pending: "
        "window open · unresolved: name ambiguous/unknown · reading: how 'side's ground' was read "
        "(held, held+contested = with the grey zone, a/b = now a against a peak of b)",
    )


@click.group()
def claims():
    """Claims ledger: every party's claim checked against the map history.

    \b
    frontline claims check claims.csv --json     # check a file (nothing stored)
    frontline claims import claims.csv           # store claims, then verify all
    frontline claims add --claimant "RU MoD" --text "Sudzha taken" --settlement Sudzha \\
        --side ru --change taken --time 2025-03-13
    frontline claims list
    frontline claims history 3
    """


@claims.command("import")
@STORE_OPT
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--window-days", default=14.0, show_default=True, type=float)
@click.option("--json", "as_json", is_flag=True)
@guard(store="write")
def import_(st, file, window_days, as_json):
    """Store the claims of a CSV/JSON file (malformed rows are reported) and verify all claims.

    A claim_id (or id) column is the user's own id: importing the file again adds nothing, and a changed
    row with a known id updates the stored claim (its history says what changed).
    """
    from ..analysis.claims import resolve_settlements, verify_all
    from ..sources.claims import read_claims
    from ..store.ledger import upsert_claims

    res = read_claims(file, sides=st.sides)
    resolutions = resolve_settlements(res.claims, store=st)
    outcome = upsert_claims(st, res.claims, resolutions)
    changes = verify_all(st, window_days=window_days)
    summary = {
        "read": len(res.claims),
        "added": sum(1 for _, o in outcome if o == "added"),
        "updated": sum(1 for _, o in outcome if o == "updated"),
        "already_stored": sum(1 for _, o in outcome if o == "unchanged"),
        "problems": res.problems,
        "changes": [c.as_dict() for c in changes],
    }
    text = (
        f"{summary['added']} claims added, {summary['updated']} updated (same claim_id, new content), "
        f"{summary['already_stored']} already stored, {len(res.problems)} rows skipped."
    )
    more = [f"  claim {c.claim_id}: {c.old_status or '—'} → [bold]{c.new_status}[/]  {c.label}" for c in changes]
    print_summary(summary, as_json, text, res.problems, more)


@claims.command()
@STORE_OPT
@click.option("--claimant", required=True)
@click.option("--text", default="")
@click.option("--source-url", default="")
@click.option("--language", default="")
@time_option("--time", "when", role="at", help="Publication time.", keep_text=True, policy=False, required=True)
@click.option("--settlement", default=None, help="Place name (any spelling).")
@click.option("--lon", type=float, default=None)
@click.option("--lat", type=float, default=None)
@click.option("--near", default=None, help="'lon lat radius_km' to pick among places of one name.")
@click.option("--side", required=True, help="One of the store's sides (ua, ru).")
@click.option("--change", default=None, help="taken or lost (settlement, polygon and line claims).")
@click.option("--metric", default=None, help="Numeric claims: share, share_lost, area_km2 or change_km2.")
@click.option(
    "--value", default=None, help="Numeric claims: 64% or 0.64 for shares ('801 of 1268 km²' too), km² otherwise."
)
@click.option("--region", default=None)
@click.option("--baseline", default=None, help="Shares: peak (default), a date, or the claimant's km² (1268).")
@click.option(
    "--reading",
    default=None,
    help="Pin how side's ground is read: held, held+contested, held/held+contested, held+contested/held "
    "(default: every reading is tried and the one that fits is named).",
)
@click.option("--confidence", default=None, help="0-1, or a percentage written with % (90%).")
@click.option("--claim-id", "ref", default=None, help="Your own id of the claim: adding it again updates it.")
@click.option("--period-start", default=None)
@click.option("--period-end", default=None)
@click.option("--geometry", default=None, help="WKT or GeoJSON of a claimed polygon or line.")
@click.option("--window-days", default=14.0, show_default=True, type=float)
@click.option("--json", "as_json", is_flag=True)
@guard(store="write")
def add(
    st,
    claimant,
    text,
    source_url,
    language,
    when,
    settlement,
    lon,
    lat,
    near,
    side,
    change,
    metric,
    value,
    region,
    baseline,
    reading,
    confidence,
    ref,
    period_start,
    period_end,
    geometry,
    window_days,
    as_json,
):
    """Add one claim to the ledger and verify it (the same checks as a file import; nothing invalid is stored)."""
    from ..analysis.claims import resolve_settlements, verify_all
    from ..sources.claims import parse_claim
    from ..store.ledger import current_status, upsert_claims

    rec = {
        "claimant": claimant,
        "text": text,
        "source_url": source_url,
        "language": language,
        "time": when,
        "settlement": settlement,
        "lon": lon,
        "lat": lat,
        "near": near,
        "side": side,
        "change": change,
        "metric": metric,
        "value": value,
        "region": region,
        "baseline": baseline,
        "reading": reading,
        "confidence": confidence,
        "ref": ref,
        "period_start": period_start,
        "period_end": period_end,
        "geometry": geometry,
    }
    c = parse_claim({k: v for k, v in rec.items() if v is not None}, "command line", sides=st.sides)
    res = resolve_settlements([c], store=st)
    [(cid, outcome)] = upsert_claims(st, [c], res)
    verify_all(st, window_days=window_days)
    cur = current_status(st).get(cid, {})
    out = {
        "claim_id": cid,
        "added": outcome == "added",
        "outcome": outcome,
        "status": cur.get("status"),
        "detail": cur.get("detail"),
    }
    if as_json:
        _print_json(out)
        return
    said = {"added": "added", "updated": "updated", "unchanged": "was already stored"}[outcome]
    d = cur.get("detail") or {}
    extra = ""
    if d.get("readings"):
        extra = f" (reading: {_reading_cell({'kind': 'numeric', 'detail': d})})"
    elif d.get("note"):
        extra = f" ({d['note']})"
    console.print(f"claim {cid} {said}: [bold]{out['status']}[/]{extra}")
    if d.get("readings"):
        _readings_table(d)


def _readings_table(d: dict) -> None:
    """The map's value of a numeric claim under every reading, so a reader sees which one the claimant used."""
    share = d.get("unit", "").startswith("share")

    def val(x):
        return "" if x is None else (f"{x:.1%}" if share else f"{x:,.1f} km²")

    def diff(x):  # shares differ by percentage points
        return "" if x is None else (f"{100 * x:+.1f} pts" if share else f"{x:+,.1f} km²")

    rows = [
        {
            "reading": r["reading"],
            "map": val(r.get("computed")),
            "of (baseline)": ""
            if r.get("baseline_km2") is None
            else f"{r['baseline_km2']:,.0f} km² ("
            + (
                "the claimant's"
                if r.get("baseline_source") not in (None, "map")
                else f"{r.get('baseline')}{', ' + r['baseline_time'][:10] if r.get('baseline_time') else ''}"
            )
            + ")",
            "claimed − map": diff(r.get("difference")),
            "fits": "yes" if r.get("fits") else "",
        }
        for r in d["readings"]
    ]
    _table(
        rows,
        ["reading", "map", "of (baseline)", "claimed − map", "fits"],
        title=f"claimed {val(d.get('claimed'))}: the map on {str(d.get('version_time', ''))[:10]} under each reading",
        caption="held = ground the side holds; held+contested = with the grey zone; a/b = a now against the peak of b",
    )


@claims.command()
@STORE_OPT
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--window-days", default=14.0, show_default=True, type=float)
@time_option(
    "--now",
    role="end",
    help="Replay: only versions up to this time count, each as the map was known then (a revision published "
    "later cannot change the verdict).",
    keep_text=True,
    policy=False,
    default=None,
)
@path_option(
    "--gazetteer",
    exists=True,
    help="Settlements file for names (GeoNames dump, OSM extract, CSV or point layer); default: the "
    "store's, else the shipped GeoNames cities500.",
)
@click.option(
    "--lookback-days",
    default=60.0,
    show_default=True,
    type=float,
    help="When the map already showed a change at the claim's time, how far back to look for the first "
    "version showing it.",
)
@click.option("--source", default=None, help="Source (map) the claims are checked against (default: the store's).")
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def check(st, file, window_days, now, gazetteer, lookback_days, source, as_json):
    """Check claims of FILE (nothing stored) or of the stored ledger against the map history.

    With --now, the replay sees only the versions up to that time, each in the revision known then (as
    --as-known-at reads them: a revision published after --now cannot change a past verdict), and only the
    claims published by then.
    """
    from ..analysis.claims import ledger_claims, published_by, verify_claims

    problems: list[str] = []
    gaz = None
    if gazetteer:
        from ..sources.geonames import load_gazetteer

        gaz = load_gazetteer(gazetteer)
    if file:
        from ..sources.claims import read_claims

        rd = read_claims(file, sides=st.sides)
        cl, problems = rd.claims, rd.problems
        cl, _, later = published_by(cl, now)
        results = verify_claims(
            st, cl, window_days=window_days, now=now, source=source, gazetteer=gaz, lookback_days=lookback_days
        )
    else:
        cl, res = ledger_claims(st)
        cl, res, later = published_by(cl, now, res)
        results = verify_claims(
            st,
            cl,
            window_days=window_days,
            now=now,
            source=source,
            resolutions=res,
            gazetteer=gaz,
            lookback_days=lookback_days,
        )
    if as_json:
        _print_json(
            {
                "window_days": window_days,
                "lookback_days": lookback_days,
                "claims": results,
                "problems": problems,
                "published_after_now": later,
            }
        )
        return
    _show(results, f"Claims checked against the map (window {window_days:g} days)")
    footer(st, source)
    if later:
        console.print(f"{later} claims published after --now are left out (they had not been made yet).")
    for p in problems:
        console.print(f"[yellow]skipped: {p}[/]")


@claims.command("list")
@STORE_OPT
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def list_(st, as_json):
    """Stored claims with their current status."""
    from ..store.ledger import current_status, list_claims

    cur = current_status(st)
    rows = []
    for d in list_claims(st):
        s = cur.get(d["claim_id"], {})
        rows.append(
            {
                "claim_id": d["claim_id"],
                "kind": d["kind"],
                "claimant": d["claimant"],
                "time": d["time"],
                "settlement": d.get("settlement"),
                "side": d.get("side"),
                "change": d.get("change"),
                "metric": d.get("metric"),
                "value": d.get("value"),
                "text": d.get("text"),
                "status": s.get("status"),
                "lag_days": (s.get("detail") or {}).get("lag_days"),
                "reading": (s.get("detail") or {}).get("reading"),
                "ref": d.get("ref"),
            }
        )
    if as_json:
        _print_json(rows)
        return
    _table(
        [
            {
                **r,
                "time": (r["time"] or "")[:10],
                "what": r["settlement"] or r["metric"] or r["kind"],
                "reading": _reading_cell({"kind": r["kind"], "detail": cur.get(r["claim_id"], {}).get("detail") or {}}),
                "lag_days": None if r["lag_days"] is None else f"{r['lag_days']:.1f}",
            }
            for r in rows
        ],
        ["claim_id", "ref", "time", "claimant", "kind", "what", "side", "change", "status", "lag_days", "reading"],
        title="Claims ledger",
    )


@claims.command()
@STORE_OPT
@click.argument("claim_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def history(st, claim_id, as_json):
    """Every change of status of one claim, with the version that caused it."""
    from ..model import iso
    from ..store.ledger import get_claim, status_history

    if get_claim(st, claim_id) is None:
        raise InputError(f"No claim {claim_id} in the ledger.")
    rows = [
        {**h, "version_time": iso(h["version_time"]), "changed_at": iso(h["changed_at"])}
        for h in status_history(st, claim_id)
    ]
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        d = r["detail"] or {}
        if r["new_status"] == "edited":
            r["note"] = "claim edited: " + "; ".join(
                f"{k} {v[0]!r} → {v[1]!r}" for k, v in (d.get("edited") or {}).items()
            )
        else:
            r["note"] = d.get("note") or (f"reading {d['reading']}" if d.get("reading") else "")
    _table(
        rows,
        ["changed_at", "old_status", "new_status", "version_id", "version_time", "note"],
        title=f"History of claim {claim_id}",
    )
