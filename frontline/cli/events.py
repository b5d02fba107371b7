"""``frontline events``: geolocated evidence — import, and link to map changes and roads."""

from __future__ import annotations

import click

from ._common import STORE_OPT, _print_json, _table, choice_option, guard, path_option, print_summary


@click.group()
def events():
    """Geolocated events (losses, strikes, clashes) linked to the map.

    \b
    frontline events import losses.json --format warspotting
    frontline events import geoconfirmed.kml --format geoconfirmed
    frontline events link --days 7 --distance-km 5 --json
    """


@events.command("import")
@STORE_OPT
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@choice_option(
    "--format", "fmt", choices=["auto", "csv", "geojson", "kml", "geoconfirmed", "warspotting"], default="auto"
)
@click.option("--json", "as_json", is_flag=True)
@guard(store="write")
def import_(st, file, fmt, as_json):
    """Store the events of FILE (malformed records are reported with their line)."""
    from ..sources.events import read_events
    from ..store.ledger import add_events

    res = read_events(file, fmt)
    imp = add_events(st, res.events)
    out = {
        "read": len(res.events),
        "added": imp.added,
        "already_stored": imp.already_stored,
        "merged": imp.merged,
        "merges": [{"origin": o, "event_id": i} for o, i in imp.merges],
        "problems": res.problems,
    }
    text = (
        f"{imp.added} events added, {imp.already_stored} already stored, {imp.merged} merged into stored "
        f"events (same time ±60 s, place within 50 m, same title), {len(res.problems)} records skipped."
    )
    print_summary(out, as_json, text, res.problems)


@events.command()
@STORE_OPT
@click.option(
    "--days",
    default=7.0,
    show_default=True,
    type=float,
    help="Compare the versions this many days before and after each event.",
)
@click.option("--distance-km", default=5.0, show_default=True, type=float)
@path_option(
    "--roads",
    "roads_path",
    exists=True,
    help="Road lines (OSM PBF or GIS file) to link events to routes; default: the store's roads if any.",
)
@click.option("--road-km", default=1.0, show_default=True, type=float, help="Distance to a road that counts.")
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def link(st, days, distance_km, roads_path, road_km, as_json):
    """Link stored events to ground that changed hands near them (and to roads)."""
    from ..analysis.events import events_on_roads, link_events
    from ..store.ledger import list_events

    evs = list_events(st)
    rows = link_events(st, evs, days=days, distance_km=distance_km)
    roads = None
    if roads_path:
        from ..sources.osm import read_roads

        roads = read_roads(roads_path)
    else:
        try:
            from ..store.reference import load_roads
        except ImportError:
            load_roads = None
        if load_roads is not None:
            roads = load_roads(st)
    if roads is not None and evs:
        for r, rr in zip(rows, events_on_roads(evs, roads, distance_km=road_km)):
            r["road"] = rr["road"] if rr["on_road"] else None
            r["road_distance_m"] = rr["distance_m"]
    if as_json:
        _print_json({"days": days, "distance_km": distance_km, "events": rows})
        return
    _table(
        [
            {
                **r,
                "time": r["time"][:10],
                "change": f"{r['change']['from']}→{r['change']['to']}" if r["change"] else "",
                "road": (r.get("road") or {}).get("ref") or (r.get("road") or {}).get("name") or "",
            }
            for r in rows
        ],
        ["event_id", "time", "type", "side", "linked", "distance_m", "change", "changed_km2", "road"],
        title=f"Events and ground that changed hands within {distance_km:g} km and {days:g} days",
    )
