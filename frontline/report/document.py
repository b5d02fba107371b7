"""Write a report's HTML: one self-contained page (inline CSS and PNG images), printable as A4 paged media."""

from __future__ import annotations

from html import escape
from typing import Any

from .facts import ReportFacts

CSS = """
@page { size: A4; margin: 14mm 14mm 16mm 14mm;
        @bottom-left { content: "Frontline situation report · map data DeepStateMAP (not redistributable)";
                       font: 7pt 'DejaVu Sans', sans-serif; color: #666; }
        @bottom-right { content: "page " counter(page) " of " counter(pages); font: 7pt 'DejaVu Sans', sans-serif;
                        color: #666; } }
body { font-family: 'DejaVu Sans', 'Helvetica', sans-serif; font-size: 9pt; color: #111; max-width: 190mm;
       margin: 0 auto; line-height: 1.35; }
h1 { font-size: 15pt; margin: 0 0 1mm 0; }
h2 { font-size: 11pt; margin: 4mm 0 1.5mm 0; border-bottom: 0.6pt solid #999; }
.sub { color: #444; margin: 0 0 2mm 0; }
figure { margin: 1mm 0 2mm 0; }
figure img { width: 100%; }
figure.map img { width: auto; max-width: 100%; max-height: 172mm; display: block; margin: 0 auto; }
figcaption { font-size: 7.5pt; color: #444; }
ul.numbers { margin: 1mm 0; padding-left: 5mm; }
ul.numbers li { margin: 0.6mm 0; }
table { border-collapse: collapse; width: 100%; font-size: 8pt; margin: 1mm 0 2mm 0; }
th, td { border-bottom: 0.4pt solid #ccc; padding: 0.8mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eee; }
td.n, th.n { text-align: right; width: 1%; white-space: nowrap; }
.note { color: #555; font-size: 7.5pt; }
.page { page-break-before: always; }
"""


def fmt_km2(v: float | None) -> str:
    """``1,234.5 km²`` (``–`` when unknown)."""
    return "–" if v is None else f"{v:,.1f} km²"


def fmt_signed(v: float | None, unit: str) -> str:
    """``+12.3 km²`` / ``−4.0 km``: a change with its sign."""
    if v is None:
        return "–"
    return f"{'+' if v >= 0 else '−'}{abs(v):,.1f} {unit}"


def fmt_share(v: float | None) -> str:
    """A share as a whole percentage."""
    return "–" if v is None else f"{v:.0%}"


def place(lon: float, lat: float) -> str:
    """``51.1212N 35.1762E``, as ``frontline corridors`` prints a place."""
    return f"{lat:.4f}N {lon:.4f}E"


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], empty: str) -> str:
    """An HTML table of ``rows`` under ``(key, heading)`` columns (numbers right-aligned), or a note."""
    if not rows:
        return f'<p class="note">{escape(empty[:1].upper() + empty[1:])}</p>'
    num = {k for k, _ in columns if all(isinstance(r.get(k), (int, float)) or r.get(k) in (None, "") for r in rows)}
    head = "".join(f'<th class="{"n" if k in num else ""}">{escape(h)}</th>' for k, h in columns)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"n" if k in num else ""}">{escape(_cell(r.get(k)))}</td>' for k, _ in columns)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)


def numbers(facts: ReportFacts) -> list[str]:
    """The report's numbers as sentences (HTML-escaped), in the order an analyst reads them."""
    out = [_area_line(facts), _net_line(facts)]
    cl = facts.areas.get("clipped", {}).get("at", {})
    out.append(
        f"Grey zone in the region: {fmt_km2(cl.get('contested_km2'))} "
        f"({fmt_signed(facts.areas['clipped']['net'].get('contested'), 'km²')} since T0)."
    )
    out.append(_front_line(facts))
    out.append(_neck_line(facts))
    out.append(_road_line(facts))
    n = len(facts.settlements.get("changed", []))
    if "note" not in facts.settlements:
        out.append(f"Settlements on the map that changed hands since T0: {n}.")
    return [escape(x) for x in out if x]


def _area_line(facts: ReportFacts) -> str:
    s, a = facts.side, facts.areas
    c, d = a["clipped"]["at"], a["as_drawn"]["at"]
    return (
        f"{s} holds {fmt_km2(c.get(f'{s}_km2'))} in {facts.region} (clipped), "
        f"{fmt_share(c.get(f'share_of_peak_{s}'))} of its peak of {fmt_km2(c.get(f'peak_{s}_km2'))}; "
        f"as drawn: {fmt_km2(d.get(f'{s}_km2'))}, {fmt_share(d.get(f'share_of_peak_{s}'))} of "
        f"{fmt_km2(d.get(f'peak_{s}_km2'))}."
    )


def _net_line(facts: ReportFacts) -> str:
    s = facts.side
    net = {c: fmt_signed(facts.areas[c]["net"].get(s), "km²") for c in ("clipped", "as_drawn")}
    tot = facts.change.get("totals", {}).get(s, {})
    whole = f"across the whole map {s} gained {fmt_km2(tot.get('gained_km2'))} and lost {fmt_km2(tot.get('lost_km2'))}"
    since = facts.since["time"][:10]
    return f"Net change since T0 ({since}): {net['clipped']} clipped, {net['as_drawn']} as drawn; {whole}."


def _front_line(facts: ReportFacts) -> str:
    f = facts.front
    if not f:
        return ""
    per = ", ".join(f"in {k}'s home {v:,.1f} km" for k, v in f["at"]["by_state"].items())
    return f"Front line: {f['at']['total_km']:,.1f} km in all ({fmt_signed(f['change_km'], 'km')} since T0); {per}."


def _neck_line(facts: ReportFacts) -> str:
    nk = facts.necks
    if "note" in nk:
        return f"Necks: {nk['note']}"
    n = nk.get("narrowest")
    off = f" ({nk['off_map']} more off the map)" if nk.get("off_map") else ""
    if n is None:
        return f"Necks: none up to 5 km wide on the map{off}; {facts.side} holds {nk['ground_km2']:,.1f} km² abroad."
    more = f" {len(nk['necks']) - 1} more neck(s) on the map, listed below." if len(nk["necks"]) > 1 else ""
    return (
        f"Narrowest neck: {n['width_m']:,.0f} m wide at {place(n['lon'], n['lat'])} "
        f"(banks: {' | '.join(n['banks'])}); beyond it lie {n['cut_off_km2']:,.1f} km², "
        f"{n['cut_off_share']:.0%} of the salient.{more}{off}"
    )


def _road_line(facts: ReportFacts) -> str:
    r = facts.road
    if "note" in r:
        return f"Last road out: {r['note']}"
    bands = "; ".join(
        f"within {name.replace('_', ' ')} range ({r['ranges_km'][name]:g} km): "
        f"{km:,.1f} km = {r['exposed_share'][name]:.0%}"
        for name, km in r["exposed_km"].items()
    )
    return (
        f"Last road out: {', '.join(r['roads']) or 'unnamed road'}, {r['length_km']:,.1f} km to home, "
        f"{r['inside_km']:,.1f} km of it inside grey ground; exposed {bands}."
    )


def region_label(region: str) -> str:
    """A region's name for a title: ``outside:ua`` → "ua's ground outside its home (outside:ua)"."""
    from pathlib import Path

    kind, _, side = region.partition(":")
    if kind == "outside" and side:
        return f"{side}'s ground outside its home ({region})"
    if kind == "home" and side:
        return f"the home of {side} ({region})"
    if region in ("ukraine", "russia", "theatre"):
        return region.capitalize() if region != "theatre" else "the whole theatre"
    return Path(region).name


def render_html(facts: ReportFacts, map_uri: str, chart_uri: str) -> str:
    """The whole report as one HTML document."""
    title = f"Situation report: {region_label(facts.region)}, {facts.at['time'][:10]}"
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='sub'>Ground of <b>{escape(facts.side)}</b> in <b>{escape(facts.region)}</b> at "
        f"{escape(facts.at['time'])} (version {escape(facts.at['version_id'])}); changes since the map as it "
        f"stood at {escape(_since(facts))}; source {escape(facts.source)}.</p>",
        "<h2>The numbers</h2><ul class='numbers'>" + "".join(f"<li>{x}</li>" for x in numbers(facts)) + "</ul>",
        f"<figure class='map'><img src='{map_uri}' alt='map'>"
        f"<figcaption>{escape(_map_caption(facts))}</figcaption></figure>",
        f"<h2>Area over time</h2><figure><img src='{chart_uri}' alt='area chart'><figcaption>"
        f"{escape(_chart_caption(facts))}</figcaption></figure>",
        _tables(facts),
        _rules(facts),
        "</body></html>",
    ]
    return "".join(parts)


def _since(facts: ReportFacts) -> str:
    """The time asked for T0 and the version that answers it (its own time when that differs)."""
    asked, v = facts.since.get("asked") or facts.since["time"], facts.since
    return f"{asked} (version {v['version_id']}" + ("" if asked == v["time"] else f" of {v['time']}") + ")"


def _map_caption(facts: ReportFacts) -> str:
    w, s, e, n = facts.extent
    return (
        f"Map at {facts.at['time']} in a local azimuthal equidistant projection (north up at the centre), "
        f"extent {w:.2f}–{e:.2f}°E, {s:.2f}–{n:.2f}°N. Gains and losses are {facts.side}'s since "
        f"{facts.since['time'][:10]}; the contact line follows docs/contact_line.md; necks and the last road "
        "out are those of the tables below."
    )


def _chart_caption(facts: ReportFacts) -> str:
    from .figures import CHART_FROM_SHARE, chart_start

    i = chart_start(facts)
    since = (
        ""
        if i == 0
        else (
            f" (from a month before {facts.side} first held {CHART_FROM_SHARE:.0%} of its peak "
            f"there; the series starts {facts.series[0]['time'][:10]})"
        )
    )
    return (
        f"Km² held by {facts.side} and contested in {facts.region} (clipped convention), every stored "
        f"version from {facts.series[i]['time'][:10] if facts.series else '–'} to T{since}; "
        "dotted line T0, solid line T."
    )


SETTLEMENT_COLUMNS = [
    ("name", "settlement"),
    ("from", "from"),
    ("to", "to"),
    ("first", "first version showing it"),
    ("changes", "changes"),
    ("place", "where"),
]
NECK_COLUMNS = [
    ("rank", "rank"),
    ("type", "type"),
    ("width", "width"),
    ("cut_off_km2", "beyond, km²"),
    ("share", "share"),
    ("bank", "banks face"),
    ("place", "where"),
]
CLAIM_COLUMNS = [
    ("claim_id", "id"),
    ("time", "published"),
    ("claimant", "claimant"),
    ("what", "what"),
    ("side", "side"),
    ("change", "change"),
    ("status", "verdict"),
    ("lag", "lag (days)"),
]
ADVANCE_COLUMNS = [("rank", "rank on the whole map"), ("side", "side"), ("km2", "km²"), ("place", "centroid")]


def _tables(facts: ReportFacts) -> str:
    """The four tables: settlements that changed hands, necks, claims, advances."""
    return "".join([_settlements_table(facts), _necks_table(facts), _claims_table(facts), _advances_table(facts)])


def _settlements_table(facts: ReportFacts) -> str:
    st = facts.settlements
    rows = [
        r
        | {
            "place": place(r["lon"], r["lat"]),
            "first": f"{r['first_time'][:16].replace('T', ' ')} ({r['first_version_id']})",
        }
        for r in st.get("changed", [])
    ]
    out = "<h2>Settlements that changed hands since T0</h2>" + table(
        rows, SETTLEMENT_COLUMNS, st.get("note") or "No settlement on the map changed hands in the period."
    )
    if "versions_compared" in st:
        out += (
            f"<p class='note'>{st['versions_compared']} versions compared (as `frontline settlements "
            f"changed`); gazetteer: {escape(str(st.get('origin')))}.</p>"
        )
    return out


def _necks_table(facts: ReportFacts) -> str:
    rows = [
        n
        | {
            "width": f"{n['width_m']:,.0f} m",
            "place": place(n["lon"], n["lat"]),
            "share": f"{n['cut_off_share']:.0%}",
            "bank": " | ".join(n["banks"]),
        }
        for n in facts.necks.get("necks", [])
    ]
    return "<h2>Necks of the salient</h2>" + table(
        rows, NECK_COLUMNS, facts.necks.get("note") or "No neck up to 5 km wide on the map."
    )


def _claims_table(facts: ReportFacts) -> str:
    rows = [
        c | {"time": (c["time"] or "")[:10], "lag": "" if c["lag_days"] is None else f"{c['lag_days']:.1f}"}
        for c in facts.claims["rows"]
    ]
    return "<h2>Claims checked in the period</h2>" + table(
        rows, CLAIM_COLUMNS, facts.claims.get("note") or "No claim in the ledger was published in the period."
    )


def _advances_table(facts: ReportFacts) -> str:
    from ..model import iso

    rows = [a | {"place": place(a["lon"], a["lat"])} for a in facts.advances]
    return (
        "<h2>Largest advances since T0</h2>"
        + table(rows, ADVANCE_COLUMNS, "No ground changed hands on the map.")
        + f"<p class='note'>Connected pieces of ground gained {iso(facts.since['t'])} → {iso(facts.at['t'])} "
        "with their centroid on the map, ranked as `frontline change` ranks the whole map's.</p>"
    )


def _rules(facts: ReportFacts) -> str:
    a = facts.areas
    items = [
        f"Areas are geodesic (WGS84). clipped: {a['clipped']['meaning']}. as_drawn: {a['as_drawn']['meaning']}. "
        "Share of peak: against the largest value from the first stored version to T.",
        "Net change: the region's area at T minus at T0; gained/lost: every piece of ground that changed hands "
        "between the two versions (frontline change).",
        f"Contact line: {facts.front.get('rule', '')}.",
        f"Necks: {facts.necks.get('rule', facts.necks.get('note', ''))}",
        "Last road out: the least exposed road route from the salient's largest piece to home; exposure is "
        "length within each fire range of enemy-held or contested ground (docs/roads.md).",
        "Settlements: status at each version by the point's place in the partition; a change is dated by the "
        "first version that showed it.",
        "On the map: necks, settlements and advances are those inside the map's extent; the commands list the "
        "side's whole ground abroad (frontline corridors) and the whole map (frontline change).",
    ]
    versions = (
        f"Versions read: T = {facts.at['version_id']} ({facts.at['time']}), T0 = {facts.since['version_id']} "
        f"({facts.since['time']}); series from {facts.series[0]['time'] if facts.series else '–'}; "
        f"source {facts.source}; store {facts.store_path}."
    )
    licence = (
        "Licence: the control map is DeepStateMAP's (deepstatemap.live); its licence forbids redistributing "
        "the data, so share this report for analysis only and credit DeepStateMAP. Settlement names: "
        "GeoNames (CC BY 4.0) where imported from it; roads: © OpenStreetMap contributors (ODbL) where "
        "imported from OSM."
    )
    return (
        "<h2>Rules, versions and licence</h2><ul class='numbers'>"
        + "".join(f"<li>{escape(x)}</li>" for x in items)
        + f"</ul><p class='note'>{escape(versions)}</p><p class='note'>{escape(licence)}</p>"
    )
