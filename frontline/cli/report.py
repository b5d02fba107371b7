"""``frontline report``: a situation report of a region at a time, as self-contained HTML or PDF."""

from __future__ import annotations

import click
from shapely.errors import GEOSException

from ._common import STORE_OPT, _print_json, at_option, console, guard, time_option


@click.command()
@STORE_OPT
@at_option("Time of the report; the latest version when not given.")
@time_option(
    "--since",
    "since",
    role="start",
    default=None,
    help="Changes are counted from the map as it stood then (default: 7 days before --at).",
)
@click.option(
    "--region",
    default="outside:ua",
    show_default=True,
    help="theatre | ukraine | russia | home:<side> | outside:<side> | a polygon file, as for `frontline area`.",
)
@click.option(
    "--side",
    default=None,
    help="Whose ground the report follows (necks, last road out, gains and losses); default: the side "
    "a home:/outside: region names.",
)
@click.option(
    "--bbox",
    default=None,
    metavar="W,S,E,N",
    help="Map extent in degrees (default: the side's ground in the region, with a margin).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file: .html (one file, images inline) or .pdf.",
)
@click.option("--source", default=None, help="Source name (default: the store's default source).")
@click.option("--json", "as_json", is_flag=True, help="Also print the report's numbers as JSON.")
@guard(store="read", also=(GEOSException,))
def report(st, at, since, region, side, bbox, out_path, source, as_json):
    """A situation report: map, area chart, numbers and tables of a region at a time, as HTML or PDF.

    Every number comes from the analyses the other commands run (area, change,
    contact-line, corridors, roads last-out, settlements changed, claims), so
    they agree. The PDF is the same HTML rendered by WeasyPrint. See docs/report.md.

    \b
    frontline report --at 2025-03-07 --since 2025-02-28 --region outside:ua --side ua --out kursk.pdf
    frontline report --at 2025-03-07 --region home:ua --side ru --bbox 36.5,47.5,38.5,48.8 --out donetsk.html
    """
    from ..report import write_report
    from ..report.facts import parse_bbox

    path, facts = write_report(st, out_path, at, since, region=region, side=side, bbox=parse_bbox(bbox), source=source)
    if as_json:
        from .._json import plain

        _print_json(plain({k: v for k, v in vars(facts).items() if k != "shapes"}))
        return
    console.print(f"Wrote {path} ({facts.region}, {facts.side}, {facts.at['time']} since {facts.since['time']}).")
