"""``frontline claims``: the claims ledger — import, add, check against the map, list, history."""

from __future__ import annotations

import click

from ._common import STORE_OPT, _fail, _open, _print_json, _table, console, time_option

_STATUS_STYLE = {"confirmed": "green", "premature": "yellow", "contradicted": "red", "pending": "cyan",
                 "unresolved": "magenta", "no_data": "dim"}


def _rows(results: list[dict]) -> list[dict]:
    rows = []
    for r in results:
        d = r["detail"]
        val = ""
        if r["kind"] == "numeric" and d.get("computed") is not None:
            val = f"claimed {d['claimed']:.4g} / map {d['computed']:.4g} ({d.get('convention')})"
        elif d.get("share_held_latest") is not None:
            val = f"held {d['share_held_latest']:.0%} (IoU {d.get('iou_latest', 0):.2f})"
        elif r["status"] == "unresolved":
            res = d.get("resolution") or {}
            val = ", ".join(f"{c['name']} ({c['lon']:.3f},{c['lat']:.3f})" for c in res.get("candidates", [])[:3])
        rows.append({"id": r.get("claim_id") if r.get("claim_id") is not None else "", "time": r["time"][:10],
                     "claim": r["label"], "status": f"[{_STATUS_STYLE.get(r['status'], '')}]{r['status']}[/]",
                     "lag (days)": "" if d.get("lag_days") is None else f"{d['lag_days']:.1f}", "value": val})
    return rows


def _show(results, title):
    _table(_rows(results), ["id", "time", "claim", "status", "lag (days)", "value"], title=title,
           caption="confirmed: shown within the window · premature: shown only after it · contradicted: not "
                   "shown when the window closed · pending: window open · unresolved: name ambiguous/unknown")


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
def import_(store_path, file, window_days, as_json):
    """Store the claims of a CSV/JSON file (malformed rows are reported) and verify all claims."""
    from ..analysis.claims import resolve_settlements, verify_all
    from ..sources.claims import read_claims
    from ..store.ledger import add_claims

    st = _open(store_path)
    try:
        res = read_claims(file)
        resolutions = resolve_settlements(res.claims, store=st)
        added = add_claims(st, res.claims, resolutions)
        changes = verify_all(st, window_days=window_days)
    except ValueError as exc:
        _fail(exc)
    summary = {"read": len(res.claims), "added": sum(1 for _, a in added if a),
               "already_stored": sum(1 for _, a in added if not a), "problems": res.problems,
               "changes": [c.as_dict() for c in changes]}
    if as_json:
        _print_json(summary)
        return
    console.print(f"{summary['added']} claims added, {summary['already_stored']} already stored, "
                  f"{len(res.problems)} rows skipped.")
    for p in res.problems:
        console.print(f"  [yellow]{p}[/]")
    for c in changes:
        console.print(f"  claim {c.claim_id}: {c.old_status or '—'} → [bold]{c.new_status}[/]  {c.label}")


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
@click.option("--side", required=True)
@click.option("--change", type=click.Choice(["taken", "lost"]), default=None)
@click.option("--metric", type=click.Choice(["share", "share_lost", "area_km2", "change_km2"]), default=None)
@click.option("--value", default=None, help="Numeric claims: 64% or 0.64 for shares, km² otherwise.")
@click.option("--region", default=None)
@click.option("--baseline", default=None, help="peak (default) or a date.")
@click.option("--period-start", default=None)
@click.option("--period-end", default=None)
@click.option("--geometry", default=None, help="WKT or GeoJSON of a claimed polygon or line.")
@click.option("--window-days", default=14.0, show_default=True, type=float)
@click.option("--json", "as_json", is_flag=True)
def add(store_path, claimant, text, source_url, language, when, settlement, lon, lat, near, side, change, metric,
        value, region, baseline, period_start, period_end, geometry, window_days, as_json):
    """Add one claim to the ledger and verify it."""
    from ..analysis.claims import resolve_settlements, verify_all
    from ..sources.claims import parse_claim
    from ..store.ledger import add_claims, current_status

    rec = {"claimant": claimant, "text": text, "source_url": source_url, "language": language, "time": when,
           "settlement": settlement, "lon": lon, "lat": lat, "near": near, "side": side, "change": change,
           "metric": metric, "value": value, "region": region, "baseline": baseline,
           "period_start": period_start, "period_end": period_end, "geometry": geometry}
    st = _open(store_path)
    try:
        c = parse_claim({k: v for k, v in rec.items() if v is not None}, "command line")
        res = resolve_settlements([c], store=st)
        [(cid, added)] = add_claims(st, [c], res)
        verify_all(st, window_days=window_days)
    except ValueError as exc:
        _fail(exc)
    cur = current_status(st).get(cid, {})
    out = {"claim_id": cid, "added": added, "status": cur.get("status"), "detail": cur.get("detail")}
    if as_json:
        _print_json(out)
    else:
        console.print(f"claim {cid} {'added' if added else 'was already stored'}: [bold]{out['status']}[/]")


@claims.command()
@STORE_OPT
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--window-days", default=14.0, show_default=True, type=float)
@time_option("--now", role="end", help="Replay: only versions up to this time count.", keep_text=True,
             policy=False, default=None)
@click.option("--gazetteer", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Settlements file for names (GeoNames dump, CSV or point layer); default: the store's or cities1000.")
@click.option("--json", "as_json", is_flag=True)
def check(store_path, file, window_days, now, gazetteer, as_json):
    """Check claims of FILE (nothing stored) or of the stored ledger against the map history."""
    from ..analysis.claims import ledger_claims, verify_claims

    st = _open(store_path, readonly=True)
    problems: list[str] = []
    try:
        gaz = None
        if gazetteer:
            from ..sources.geonames import load_gazetteer

            gaz = load_gazetteer(gazetteer)
        if file:
            from ..sources.claims import read_claims

            rd = read_claims(file)
            cl, problems = rd.claims, rd.problems
            results = verify_claims(st, cl, window_days=window_days, now=now, gazetteer=gaz)
        else:
            cl, res = ledger_claims(st)
            results = verify_claims(st, cl, window_days=window_days, now=now, resolutions=res, gazetteer=gaz)
    except ValueError as exc:
        _fail(exc)
    if as_json:
        _print_json({"window_days": window_days, "claims": results, "problems": problems})
        return
    _show(results, f"Claims checked against the map (window {window_days:g} days)")
    for p in problems:
        console.print(f"[yellow]skipped: {p}[/]")


@claims.command("list")
@STORE_OPT
@click.option("--json", "as_json", is_flag=True)
def list_(store_path, as_json):
    """Stored claims with their current status."""
    from ..store.ledger import current_status, list_claims

    st = _open(store_path, readonly=True)
    cur = current_status(st)
    rows = []
    for d in list_claims(st):
        s = cur.get(d["claim_id"], {})
        rows.append({"claim_id": d["claim_id"], "kind": d["kind"], "claimant": d["claimant"], "time": d["time"],
                     "settlement": d.get("settlement"), "side": d.get("side"), "change": d.get("change"),
                     "metric": d.get("metric"), "value": d.get("value"), "text": d.get("text"),
                     "status": s.get("status"), "lag_days": (s.get("detail") or {}).get("lag_days")})
    if as_json:
        _print_json(rows)
        return
    _table([{**r, "time": (r["time"] or "")[:10]} for r in rows],
           ["claim_id", "time", "claimant", "kind", "settlement", "side", "change", "status", "lag_days"],
           title="Claims ledger")


@claims.command()
@STORE_OPT
@click.argument("claim_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def history(store_path, claim_id, as_json):
    """Every change of status of one claim, with the version that caused it."""
    from ..model import iso
    from ..store.ledger import get_claim, status_history

    st = _open(store_path, readonly=True)
    if get_claim(st, claim_id) is None:
        _fail(ValueError(f"No claim {claim_id} in the ledger."))
    rows = [{**h, "version_time": iso(h["version_time"]), "changed_at": iso(h["changed_at"])}
            for h in status_history(st, claim_id)]
    if as_json:
        _print_json(rows)
        return
    _table(rows, ["changed_at", "old_status", "new_status", "version_id", "version_time"],
           title=f"History of claim {claim_id}")
