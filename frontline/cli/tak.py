"""``frontline tak``: the control map and necks for TAK clients, as a data package or as CoT events."""

from __future__ import annotations

import time

import click

from ._common import STORE_OPT, at_option, choice_option, console, guard

_SIDE_HELP = "Add the necks of this side's ground (ua, ru); none when not given."
_REGION_HELP = "Clip to a box 'min lon,min lat,max lon,max lat' or to a polygon file (GeoJSON, GPKG, KML…)."
_BUDGET_HELP = (
    "Vertex budget per shape (default 2000): polygons are simplified until they fit (ATAK slows on huge shapes)."
)


def _map_options(f):
    """The options both subcommands share: time, side, scope, region, source, vertex budget."""
    opts = [
        STORE_OPT,
        at_option("Time of the map; the latest version when not given."),
        click.option("--side", default=None, help=_SIDE_HELP),
        choice_option("--scope", choices=["abroad", "all"], default="abroad", help="Ground the necks are sought in."),
        click.option("--region", default=None, help=_REGION_HELP),
        click.option("--source", default=None),
        click.option("--max-vertices", default=None, type=int, help=_BUDGET_HELP),
        click.option("--min-km2", default=0.5, show_default=True, help="Leave out polygon parts smaller than this."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _budget(max_vertices: int | None) -> int:
    """The vertex budget asked for, or the default (:data:`frontline.tak.DEFAULT_MAX_VERTICES`)."""
    from ..errors import InputError
    from ..tak import DEFAULT_MAX_VERTICES

    if max_vertices is None:
        return DEFAULT_MAX_VERTICES
    if max_vertices < 4:
        raise InputError(f"must be at least 4, not {max_vertices}.", field="--max-vertices")
    return max_vertices


@click.group()
def tak():
    """The control map and necks for ATAK / WinTAK / iTAK: a data package (KML) or CoT events.

    \b
    frontline tak package --at 2025-03-07 --side ua --out kursk.zip
    frontline tak cot --at 2025-03-07 --side ua --region 34.3,50.9,35.9,51.7 --out kursk.xml
    frontline tak cot --at 2025-03-07 --side ua --stream --out kursk.cot
    """


@tak.command("package")
@_map_options
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The data package (.zip).")
@guard(store="read")
def package(st, at, side, scope, region, source, max_vertices, min_km2, out):
    """A TAK data package: MANIFEST/manifest.xml and a styled KML (held per side, grey zone, necks)."""
    from ..tak import tak_map, write_package

    max_vertices = _budget(max_vertices)
    t0 = time.perf_counter()
    tm = tak_map(st, at, side=side, region=region, source=source, scope=scope, min_km2=min_km2)
    info = write_package(tm, out, max_vertices)
    console.print(
        f"Wrote {info['file']} ({info['bytes']:,} bytes; KML {info['kml_bytes']:,} bytes, {info['necks']} neck(s)) "
        f"for version {info['version_id']} ({info['time']}) in {time.perf_counter() - t0:.1f} s; "
        f"{tm.dropped} part(s) under {min_km2:g} km² left out."
    )


@tak.command("cot")
@_map_options
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The CoT file (.xml).")
@click.option("--stream", is_flag=True, help="One event per line (as sent to a TAK server) instead of <events>.")
@click.option("--stale-hours", default=24.0, show_default=True, help="Events leave the map this long after now.")
@guard(store="read")
def cot(st, at, side, scope, region, source, max_vertices, min_km2, out, stream, stale_hours):
    """CoT events: polygons and necks as drawing shapes (u-d-f), stable uids per version and part."""
    from ..errors import InputError
    from ..tak import cot_events, tak_map, write_cot

    max_vertices = _budget(max_vertices)
    if stale_hours <= 0:
        raise InputError(f"must be positive, not {stale_hours}.", field="--stale-hours")
    t0 = time.perf_counter()
    tm = tak_map(st, at, side=side, region=region, source=source, scope=scope, min_km2=min_km2)
    info = write_cot(cot_events(tm, max_vertices=max_vertices, stale_s=stale_hours * 3600), out, stream=stream)
    console.print(
        f"Wrote {info['events']} CoT event(s), {info['vertices']:,} vertices, {info['bytes']:,} bytes, to "
        f"{info['file']} for version {tm.version_id} in {time.perf_counter() - t0:.1f} s; "
        f"{tm.dropped} part(s) under {min_km2:g} km² left out."
    )
