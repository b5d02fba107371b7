"""``frontline animate``: the front moving over time, one frame per period, as an animated GIF or an MP4."""

from __future__ import annotations

import sys

import click
from shapely.errors import GEOSException

from ._common import STORE_OPT, _print_json, console, from_option, guard, to_option


@click.command()
@STORE_OPT
@from_option("First time of the animation (default: the first version).")
@to_option("Last time of the animation (default: the last version).")
@click.option(
    "--every",
    type=click.Choice(["day", "week", "month"]),
    default="week",
    show_default=True,
    help="One frame per period: its last version.",
)
@click.option(
    "--region",
    default="outside:ua",
    show_default=True,
    help="theatre | ukraine | russia | home:<side> | outside:<side> | a polygon file: the curve's area and "
    "the default extent.",
)
@click.option("--side", default=None, help="Whose ground the curve follows (default: the side the region names).")
@click.option(
    "--bbox",
    default=None,
    metavar="W,S,E,N",
    help="Map extent in degrees (default: the side's ground over all frames).",
)
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Output file: .gif or .mp4 (H.264)."
)
@click.option("--fps", type=float, default=4.0, show_default=True, help="Frames per second.")
@click.option("--width", type=int, default=960, show_default=True, help="Frame width in pixels (16 to 2048).")
@click.option("--source", default=None, help="Source name (default: the store's default source).")
@click.option("--json", "as_json", is_flag=True, help="Print the frames (version, time, areas) as JSON.")
@guard(store="read", also=(GEOSException,))
def animate(st, start, end, every, region, side, bbox, out_path, fps, width, source, as_json):
    """The front over time: one frame per period, the map as in `frontline report`, date and area curve.

    Each frame is the last version of its period (--every): held ground per side (the side's ground
    outside its home darker), grey zone, contact line, the date, and the side's and the grey zone's km²
    in the region growing under the map. The extent is the same in every frame. See docs/report.md.

    \b
    frontline animate --from 2024-08-01 --to 2025-03-31 --every week --region outside:ua --side ua --out kursk.gif
    frontline animate --from 2025-01-01 --every day --bbox 36.5,47.5,38.5,48.8 --side ru --out donetsk.mp4
    """
    from ..report.animate import animate as run
    from ..report.facts import parse_bbox

    path, frames = run(
        st,
        out_path,
        start,
        end,
        every=every,
        region=region,
        side=side,
        bbox=parse_bbox(bbox),
        source=source,
        fps=fps,
        width=width,
        progress=not as_json and sys.stderr.isatty(),
    )
    if as_json:
        rows = [{"version_id": f.version_id, "time": f.time, "t": f.t, "areas_km2": f.areas} for f in frames]
        _print_json({"out": str(path), "every": every, "region": region, "frames": rows})
        return
    console.print(f"Wrote {path}: {len(frames)} frames, {frames[0].time} to {frames[-1].time}.")
    for f in frames:
        console.print(f"  {f.time}  version {f.version_id}")
