"""Animate the front over time: one frame per period, the report's map and the area curve, as GIF or MP4.

One figure is drawn once, its unchanging parts (water, the homes in their owners' colours, the chart's
axes) kept as a background; a frame restores it and draws only its own artists: the ground that moved
(each side's ground outside its home, the grey zone, cut from the tile parts near the window), the front,
the date and the curve. The extent is fixed across frames and every polygon is simplified to half a pixel
before it is projected, so a frame costs its geometry's size on screen, not in the store. The same
canvas draws ``/api/map.png`` (:func:`map_png`). Rules: ``docs/report.md``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ..errors import InputError, NoVersionError
from ..geodesy import LocalProjection
from ..model import iso
from .facts import Box
from .figures import (
    ABROAD_COLOURS,
    ATTRIBUTION,
    CONTESTED_COLOUR,
    FRONT_COLOUR,
    LAND_COLOUR,
    WATER_COLOUR,
    _frame,
    _path,
    side_colour,
)

FORMATS = (".gif", ".mp4")
WIDTH_PX = 960  # frame width; the height follows the map's aspect (plus the chart band), both even for H.264
CHART_PX = 250
DPI = 100
MAX_PX = 2048


@dataclass
class Frame:
    """One frame's version and what it shows (shapes clipped to the map window, lon/lat).

    ``abroad`` is each side's ground outside its home: with the grey zone, all that is drawn over the homes
    (each in its owner's colour, drawn once), which together make the map of held ground per side.
    """

    version_id: str
    time: str
    t: int
    abroad: dict[str, BaseGeometry] = field(default_factory=dict, repr=False)
    contested: BaseGeometry | None = field(default=None, repr=False)
    front: BaseGeometry | None = field(default=None, repr=False)
    areas: dict[str, float | None] = field(default_factory=dict)


def frame_versions(store, start, end, every: str, source: str | None = None) -> list:
    """The last version of each period (``day``/``week``/``month``) from ``start`` to ``end``, in time order."""
    from ..times import check_period, last_per_period, parse_time

    check_period(every)
    t0 = parse_time(start, role="start", name="--from")
    t1 = parse_time(end, role="end", name="--to")
    if t0 is not None and t1 is not None and t0 > t1:
        raise InputError(f"--from {iso(t0)} is after --to {iso(t1)}", field="--from")
    vs = [
        v for v in store.versions(source) if (t0 is None or v.valid_time >= t0) and (t1 is None or v.valid_time <= t1)
    ]
    if not vs:
        raise NoVersionError(f"no version from {iso(t0) if t0 else 'the start'} to {iso(t1) if t1 else 'the end'}")
    return list(last_per_period(vs, every).values())


def extent_of(store, controls: list, region: str, side: str) -> Box:
    """The map extent fixed for every frame: the side's ground in the region over all of them, with a margin."""
    from ..state import theatre_of

    th = theatre_of(store)
    if region.startswith("outside:"):
        geoms = [c.abroad(side) for c in controls]
    elif region.startswith("home:") or region in ("ukraine", "russia"):
        home = {"ukraine": "ua", "russia": "ru"}.get(region, region.split(":", 1)[-1])
        geoms = [th.homes[home]]
    else:
        geoms = list(th.homes.values())
    bounds = np.array([g.bounds for g in geoms if g is not None and not g.is_empty])
    if not len(bounds):
        raise InputError(f"side {side!r} holds nothing in {region!r} in these versions; give --bbox", field="--region")
    w, s = bounds[:, 0].min(), bounds[:, 1].min()
    e, n = bounds[:, 2].max(), bounds[:, 3].max()
    pad = max(0.1, 0.25 * max(e - w, n - s))
    return float(w - pad), float(s - pad), float(e + pad), float(n + pad)


def front_extent(control) -> Box:
    """The grey zone's extent with a 10% (≥ 0.1°) margin; the theatre's when there is no grey zone."""
    g = control.contested
    w, s, e, n = (g if not g.is_empty else shapely.union_all(list(control.theatre.homes.values()))).bounds
    pad = max(0.1, 0.1 * max(e - w, n - s))
    return float(w - pad), float(max(-90.0, s - pad)), float(e + pad), float(min(90.0, n + pad))


def local_frame(v, control, window: BaseGeometry, borders: shapely.STRtree) -> Frame:
    """A version's ground abroad per side, grey zone and front inside ``window``.

    The front is the edge of that moved ground away from the state borders, coasts and the window's edge
    (``borders``: a tree of those lines' segments, :func:`borders_in`): where a side's ground faces the
    enemy's or the grey zone. It is the line ``frontline contact-line`` measures, less its water and
    sliver rules, which a map at pixel scale does not show; computed from the small moved ground only,
    it costs a fraction of it.
    """
    from ..borders import polygonal
    from ..model import CONTESTED

    parts = control.tile_parts()

    def near(keys) -> BaseGeometry | None:  # only the tile parts in the window: whole unions cost seconds
        gs = np.asarray([g for k in keys for g in parts.get(k, [])], dtype=object)
        gs = gs[shapely.intersects(gs, window)] if len(gs) else gs
        return polygonal(shapely.intersection(shapely.union_all(gs), window)) if len(gs) else None

    homes = {h for h, _ in parts}
    abroad = {s: near([(h, s) for h in homes if h != s]) for s in control.sides}
    contested = near([(h, CONTESTED) for h in homes])
    moved = [g for g in (*abroad.values(), contested) if g is not None and not g.is_empty]
    return Frame(
        v.version_id,
        iso(v.valid_time) or "",
        int(v.valid_time),
        abroad={s: g for s, g in abroad.items() if g is not None},
        contested=contested,
        front=_off_borders(moved, borders),
    )


def _segments_of(geoms: list[BaseGeometry]) -> np.ndarray:
    """Every segment of the rings or lines of ``geoms`` as an ``(n, 2, 2)`` array of lon/lat."""
    lines = shapely.get_parts(shapely.boundary(np.asarray(geoms, dtype=object)))
    lines = shapely.get_parts(shapely.line_merge(lines)) if len(lines) else lines
    out = []
    for line in lines:
        xy = shapely.get_coordinates(line)
        if len(xy) >= 2:
            out.append(np.stack([xy[:-1], xy[1:]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2, 2))


def _off_borders(moved: list[BaseGeometry], borders: shapely.STRtree) -> BaseGeometry | None:
    """The segments of the moved ground's edges whose middle is not on a border line (a metre off)."""
    seg = _segments_of(moved)
    if not len(seg):
        return None
    mid = shapely.points(seg.mean(axis=1))
    near = borders.query(mid, predicate="dwithin", distance=1e-5)[0]
    keep = np.ones(len(seg), dtype=bool)
    keep[near] = False
    return shapely.multilinestrings(shapely.linestrings(seg[keep])) if keep.any() else None


def borders_in(homes: dict[str, BaseGeometry]) -> shapely.STRtree:
    """A tree of the segments of the homes' outlines in the window (state borders, coasts, window edge)."""
    seg = _segments_of([g for g in homes.values() if not g.is_empty])
    return shapely.STRtree(shapely.linestrings(seg) if len(seg) else [])


def homes_in(theatre, window: BaseGeometry) -> dict[str, BaseGeometry]:
    """Each home of the theatre cut to ``window``."""
    return {h: shapely.intersection(g, window) for h, g in theatre.homes.items()}


def homes_of(store, extent: Box) -> dict[str, BaseGeometry]:
    """Each home of the store's theatre inside ``extent``."""
    from ..state import theatre_of

    return homes_in(theatre_of(store), box(*extent))


def gather_frames(
    store, versions: list, *, region: str, side: str, bbox: Box | None = None, progress: bool = False
) -> tuple[list[Frame], Box]:
    """Every frame's shapes and areas, and the fixed extent (``bbox``, else :func:`extent_of`)."""
    from .._progress import progress_bar
    from ..analysis.area import area_series
    from ..state import version_control

    controls = [version_control(store, v) for v in versions]
    extent = bbox or extent_of(store, controls, region, side)
    window = box(*extent)
    borders = borders_in(homes_in(controls[0].theatre, window))
    frames = []
    with progress_bar(len(versions), "reading versions", enabled=progress) as advance:
        for v, c in zip(versions, controls):
            frames.append(local_frame(v, c, window, borders))
            advance()
    rows = area_series(
        store, region=region, start=versions[0].valid_time, end=versions[-1].valid_time, source=versions[0].source
    )
    by_id = {r["version_id"]: r for r in rows}
    for f in frames:
        r = by_id.get(f.version_id, {})
        f.areas = {k: r.get(f"{k}_km2") for k in (side, "contested")}
    return frames, extent


def canvas_size(box_km: np.ndarray, width: int, chart: bool) -> tuple[int, int]:
    """Even pixel ``(width, height)`` of a frame: the map at its aspect (clipped) over the chart band."""
    aspect = float(np.clip((box_km[3] - box_km[1]) / (box_km[2] - box_km[0]), 0.45, 1.25))
    w = int(width) // 2 * 2
    h = int(round(w * aspect)) + (CHART_PX if chart else 0)
    return w, min(h, MAX_PX * 2) // 2 * 2


def fit_box(box_km: np.ndarray, aspect: float) -> np.ndarray:
    """``box_km`` widened (about its centre) to the axes' height/width ``aspect``, so the map fills them."""
    w, s, e, n = box_km.tolist()
    cx, cy, dx, dy = (w + e) / 2, (s + n) / 2, (e - w) / 2, (n - s) / 2
    if dy / dx < aspect:
        dy = dx * aspect
    else:
        dx = dy / aspect
    return np.array([cx - dx, cy - dy, cx + dx, cy + dy])


class MapCanvas:
    """One figure reused for every frame: the map (held per side, grey zone, front, date) and the area curve.

    Parameters
    ----------
    extent
        Map window ``(W, S, E, N)`` in degrees, the same for every frame.
    sides
        The store's sides (colours).
    side
        The side whose ground abroad is drawn darker and whose area the curve shows (None: no side).
    size
        ``(width, height)`` in pixels (even).
    frames
        With them, the area chart band under the map (its axes fixed to their times and areas).
    homes
        Each home of the theatre in the window, drawn once under every frame in its side's colour.
    """

    # fmt: off
    def __init__(self, extent: Box, sides: list[str], side: str | None, size: tuple[int, int],
                 frames: list | None = None, homes: dict[str, BaseGeometry] | None = None):
        # fmt: on
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.collections import LineCollection
        from matplotlib.patches import Patch, PathPatch

        self.sides, self.side, self.size = sides, side, size
        window = box(*extent)
        self.proj = LocalProjection.for_geometry(window)
        box_km = np.asarray(self.proj.to_metric(shapely.segmentize(window, 0.01)).bounds) / 1000.0
        w, h = size
        self.fig = plt.figure(figsize=(w / DPI, h / DPI), dpi=DPI)
        chart = CHART_PX if frames else 0
        self.ax = self.fig.add_axes((0, chart / h, 1, 1 - chart / h))
        self.ax.set_facecolor(WATER_COLOUR)
        _frame(self.ax, fit_box(box_km, (h - chart) / w))
        x0, x1 = self.ax.get_xlim()
        self.tolerance_m = 0.5 * (x1 - x0) * 1000.0 / w  # half a pixel
        self.patches: dict[str, Any] = {}
        colours = {s: side_colour(s, sides) for s in sides}
        for home, g in (homes or {}).items():
            home_path = _path(g, self.proj, self.tolerance_m)
            if home_path is not None:
                colour = colours.get(home, LAND_COLOUR)
                self.ax.add_artist(PathPatch(home_path, facecolor=colour, lw=0, zorder=0.5))
        if side is not None:
            colours[side] = ABROAD_COLOURS.get(side, "#777777")  # its ground abroad: darker than at home
        colours["contested"] = CONTESTED_COLOUR
        for key, colour in colours.items():
            self.patches[key] = PathPatch(
                _path(window, self.proj), facecolor=colour, edgecolor="none", zorder=1, animated=True
            )
            self.patches[key].set_visible(False)
            self.ax.add_artist(self.patches[key])
        self.front = LineCollection([], colors=FRONT_COLOUR, linewidths=1.0, zorder=4, animated=True)
        self.ax.add_collection(self.front, autolim=False)
        _frame(self.ax, fit_box(box_km, (h - chart) / w))
        style: dict[str, Any] = dict(transform=self.ax.transAxes, zorder=9, animated=True)
        backing = dict(facecolor="white", alpha=0.85, edgecolor="none", pad=2)
        self.stamp = self.ax.text(0.015, 0.985, "", ha="left", va="top", fontsize=15, fontweight="bold",
                                  bbox=backing, **style)  # fmt: skip
        self.credit = self.ax.text(0.99, 0.005, ATTRIBUTION, ha="right", va="bottom", fontsize=7, color="#333333",
                     bbox=backing, **style)  # fmt: skip
        handles = [Patch(facecolor=side_colour(s, sides), label=f"held by {s}") for s in sides]
        if side is not None:
            handles += [Patch(facecolor=colours[side], label=f"{side} outside its home")]
        handles += [Patch(facecolor=CONTESTED_COLOUR, label="grey zone")]
        self.legend = self.ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.85)
        self.legend.set_animated(True)
        self.chart = _AreaChart(self.fig, frames, side, chart / h) if frames and side else None
        # What never changes (water, land, the chart's axes) is drawn once and kept; each frame starts
        # from it and draws only its own artists (marked animated, so the full draw leaves them out).
        self.fig.canvas.draw()
        self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)  # type: ignore[attr-defined]

    def draw(self, frame: Frame, index: int = 0) -> np.ndarray:
        """Pixels ``(height, width, 3)`` of ``frame`` (the ``index``-th: the curve runs up to it)."""
        for s in self.sides:
            self._set(s, frame.abroad.get(s))
        self._set("contested", frame.contested)
        self.front.set_segments(_segments(frame.front, self.proj, self.tolerance_m))
        self.stamp.set_text(frame.time[:10])
        canvas = self.fig.canvas
        canvas.restore_region(self.background)  # type: ignore[attr-defined]
        for artist in [*self.patches.values(), self.front, self.legend, self.stamp, self.credit]:
            if artist.get_visible():
                self.ax.draw_artist(artist)
        if self.chart is not None:
            self.chart.upto(index)
        rgba = np.asarray(self.fig.canvas.buffer_rgba())  # type: ignore[attr-defined]
        return rgba[:, :, :3].copy()

    def _set(self, key: str, geom: BaseGeometry | None) -> None:
        patch = self.patches[key]
        path = _path(geom, self.proj, self.tolerance_m) if geom is not None else None
        patch.set_visible(path is not None)
        if path is not None:
            patch.set_path(path)

    def close(self) -> None:
        import matplotlib.pyplot as plt

        plt.close(self.fig)


def _segments(geom: BaseGeometry | None, proj: LocalProjection, tolerance_m: float) -> list[np.ndarray]:
    """The line parts of ``geom`` in km, simplified to the pixel, as LineCollection segments."""
    if geom is None or geom.is_empty:
        return []
    g = shapely.simplify(proj.to_metric(geom), tolerance_m)
    return [
        np.asarray(p.coords) / 1000.0
        for p in shapely.get_parts(shapely.line_merge(g) if g.geom_type == "MultiLineString" else g)
        if p.geom_type == "LineString" and not p.is_empty
    ]


class _AreaChart:
    """The side's and the grey zone's km² per frame under the map, growing frame by frame, current one marked."""

    def __init__(self, fig, frames: list[Frame], side: str, height: float):
        import matplotlib.dates as mdates

        self.ax = fig.add_axes((0.08, 0.035, 0.9, height - 0.06))
        self.x = mdates.date2num([datetime.fromtimestamp(f.t, tz=UTC) for f in frames])
        self.lines, self.dots = [], []
        top = 0.0
        for what in (side, "contested"):
            y = np.array([np.nan if f.areas.get(what) is None else f.areas[what] for f in frames], dtype=float)
            colour = "#666666" if what == "contested" else {"ua": "#1f4e9c", "ru": "#a50f15"}.get(what, "#333333")
            label = "grey zone km²" if what == "contested" else f"{what} km²"
            (line,) = self.ax.plot([], [], color=colour, lw=1.6, label=label, animated=True)
            (dot,) = self.ax.plot([], [], "o", color=colour, ms=6, animated=True)
            self.lines.append((line, y))
            self.dots.append(dot)
            top = max(top, float(np.nanmax(y)) if np.isfinite(y).any() else 0.0)
        pad = max(0.5, 0.02 * (self.x[-1] - self.x[0]))
        self.ax.set_xlim(self.x[0] - pad, self.x[-1] + pad)
        self.ax.set_ylim(0, top * 1.1 or 1.0)
        locator = mdates.AutoDateLocator()
        self.ax.xaxis.set_major_locator(locator)
        self.ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        self.ax.tick_params(labelsize=8)
        self.ax.set_ylabel("km² (clipped)", fontsize=8)
        self.ax.grid(alpha=0.3, lw=0.5)
        self.legend = self.ax.legend(fontsize=8, loc="upper left")
        self.legend.set_animated(True)  # over the curves: drawn after them

    def upto(self, i: int) -> None:
        """Draw the curves up to frame ``i`` and its dots (over the kept background)."""
        for (line, y), dot in zip(self.lines, self.dots):
            line.set_data(self.x[: i + 1], y[: i + 1])
            dot.set_data(self.x[i : i + 1], y[i : i + 1])
            self.ax.draw_artist(line)
            self.ax.draw_artist(dot)
        self.ax.draw_artist(self.legend)


def render(canvas: MapCanvas, frames: list[Frame], progress: bool = False) -> Iterator[np.ndarray]:
    """Each frame's pixels, in order (with a progress bar when asked)."""
    from .._progress import progress_bar

    with progress_bar(len(frames), "drawing frames", enabled=progress) as advance:
        for i, f in enumerate(frames):
            yield canvas.draw(f, i)
            advance()


def write_gif(pixels: Iterator[np.ndarray], out: Path, fps: float) -> None:
    """Frames as an animated GIF (Pillow; each frame quantised to its own palette, looped)."""
    from PIL import Image

    images = [Image.fromarray(p).quantize(colors=255, method=Image.Quantize.FASTOCTREE) for p in pixels]
    # disposal 1 and no optimisation: every frame is shown whole, even when two look alike
    images[0].save(out, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0, disposal=1)


def write_mp4(pixels: Iterator[np.ndarray], out: Path, fps: float, size: tuple[int, int]) -> None:
    """Frames as H.264 MP4 (yuv420p, plays everywhere): raw RGB piped to ffmpeg."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise InputError("ffmpeg is not installed: write a .gif, or install ffmpeg for .mp4", field="--out")
    w, h = size
    cmd = [exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}",
           "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-movflags", "+faststart",
           str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for p in pixels:
            proc.stdin.write(np.ascontiguousarray(p).tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.wait()
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {err.strip()[-500:]}")


WRITERS: dict[str, Callable] = {".gif": write_gif, ".mp4": write_mp4}


def animate(
    store,
    out: str | Path,
    start=None,
    end=None,
    *,
    every: str = "week",
    region: str = "outside:ua",
    side: str | None = None,
    bbox: Box | None = None,
    source: str | None = None,
    fps: float = 4.0,
    width: int = WIDTH_PX,
    progress: bool = False,
) -> tuple[Path, list[Frame]]:
    """Write the front's animation from ``start`` to ``end`` to ``out`` (``.gif`` or ``.mp4``).

    Parameters
    ----------
    store
        An open store.
    out
        Output file; its suffix picks the format.
    start, end
        Time range (ISO text or epoch seconds; a bare date is the start / the end of that day).
    every
        ``day``, ``week`` or ``month``: one frame per period, its last version.
    region
        A region as ``frontline area --region`` takes it (the curve's area; the default extent).
    side
        Whose ground the curve follows and is drawn darker abroad (default: the side the region names).
    bbox
        Map extent ``(W, S, E, N)``; default: the side's ground in the region over all frames, with a margin.
    source
        Source name (the store's default when None).
    fps
        Frames per second.
    width
        Frame width in pixels (at most 2048).
    progress
        Draw progress bars on stderr.

    Returns
    -------
    (path, frames)
        The file written and its frames (version, time, areas), in order.
    """
    from ..analysis.area import resolve_region
    from .facts import default_side

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{out.name}: the animation is written as .gif or .mp4", field="--out")
    if not (16 <= width <= MAX_PX):
        raise InputError(f"width must be 16 to {MAX_PX} pixels, not {width}", field="--width")
    if not fps > 0:
        raise InputError(f"fps must be positive, not {fps}", field="--fps")
    resolve_region(store, region)
    side = default_side(store, region, side)
    versions = frame_versions(store, start, end, every, source)
    frames, extent = gather_frames(store, versions, region=region, side=side, bbox=bbox, progress=progress)
    proj = LocalProjection.for_geometry(box(*extent))
    box_km = np.asarray(proj.to_metric(shapely.segmentize(box(*extent), 0.01)).bounds) / 1000.0
    size = canvas_size(box_km, width, chart=True)
    canvas = MapCanvas(extent, list(store.sides), side, size, frames, homes_of(store, extent))
    try:
        pixels = render(canvas, frames, progress)
        if suffix == ".gif":
            write_gif(pixels, out, fps)
        else:
            write_mp4(pixels, out, fps, size)
    finally:
        canvas.close()
    return out, frames


def map_png(store, version, extent: Box | None, width: int, height: int, control=None) -> bytes:
    """A PNG of exactly ``width`` × ``height`` pixels: the map of ``version`` (no chart).

    ``extent`` ``(W, S, E, N)`` defaults to the grey zone's with a margin (the whole front); ``control``,
    the version's partition when the caller holds it already.
    """
    import io

    from PIL import Image

    from ..state import version_control

    sides = list(store.sides)
    control = control if control is not None else version_control(store, version)
    if extent is None:
        extent = front_extent(control)
    homes = homes_of(store, extent)
    frame = local_frame(version, control, box(*extent), borders_in(homes))
    canvas = MapCanvas(extent, sides, None, (width, height), homes=homes)
    try:
        pixels = canvas.draw(frame)
    finally:
        canvas.close()
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


__all__ = ["Frame", "MapCanvas", "animate", "frame_versions", "gather_frames", "map_png"]
