"""Draw a report's map and area chart with matplotlib (local projection, no tiles) as inline PNG data.

The map is drawn in a local azimuthal equidistant projection centred on the extent, in km, so the scale bar
is true across it and north is up at the centre. PNG (not SVG) because WeasyPrint renders raster images
exactly as the browser does, and the files stay small at print resolution.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..geodesy import LocalProjection
from .facts import ReportFacts

SIDE_COLOURS = {"ua": "#8db4e2", "ru": "#e8a09a"}  # DeepState's own hues, lightened so change shows on top
OTHER_COLOURS = ["#b5d99c", "#f3d27a", "#c9b3e6"]
ABROAD_COLOURS = {"ua": "#3d74c4", "ru": "#c8483d"}  # a side's ground outside its home: the salient stands out
CONTESTED_COLOUR = "#bdbdbd"
GAIN_COLOUR = "#1b7837"
LOSS_COLOUR = "#762a83"  # purple: apart from both sides' reds and blues
FRONT_COLOUR = "#222222"
LAND_COLOUR = "#f4f1ea"
WATER_COLOUR = "#cddff0"
# Road exposure bands, nearest (worst) first; "inside" is contested ground, "beyond" out of every range.
BAND_COLOURS = {
    "inside": "#67000d",
    "fpv": "#d7301f",
    "tube_artillery": "#fc8d59",
    "loitering_mlrs": "#fdcc8a",
    "beyond": "#1a9850",
}
STATUS_COLOURS = {"ua": "#1f4e9c", "ru": "#a50f15", "contested": "#555555", None: "#999999"}
LABELS_MAX = 18  # settlement labels on the map: changed ones first, then by population
LABEL_GAP = 0.08  # a label needs this share of the map's width to itself (a third of it in height)
DPI = 200
ATTRIBUTION = "Map data: DeepStateMAP (deepstatemap.live), not redistributable · drawn by Frontline"


def side_colour(side: str, sides: list[str]) -> str:
    """Fill colour of a side's held ground."""
    if side in SIDE_COLOURS:
        return SIDE_COLOURS[side]
    return OTHER_COLOURS[[s for s in sides if s not in SIDE_COLOURS].index(side) % len(OTHER_COLOURS)]


def png_data_uri(fig) -> str:
    """A figure as a ``data:image/png;base64,…`` URI (closes the figure)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.02)  # no blank band in the page
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _path(geom: BaseGeometry, proj: LocalProjection, tolerance_m: float = 0.0):
    """A matplotlib compound path of a (multi)polygon's rings, projected to km (simplified by ``tolerance_m``)."""
    from matplotlib.path import Path

    from ..borders import polygonal

    geom = polygonal(geom)
    if geom is None or geom.is_empty:
        return None
    if tolerance_m > 0:  # a vertex closer than a pixel to the line of its neighbours draws nothing
        # in degrees, before projecting (fewer points to project); a degree of longitude is at most
        # 111.32 km, so the tolerance is never coarser than asked
        geom = shapely.simplify(geom, tolerance_m / 111_320.0, preserve_topology=True)
    g = proj.to_metric(geom)
    verts, codes = [], []
    for poly in shapely.get_parts(g):
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords) / 1000.0
            if len(xy) < 3:
                continue
            verts.append(xy)
            codes.append(np.r_[Path.MOVETO, np.full(len(xy) - 2, Path.LINETO), Path.CLOSEPOLY])
    if not verts:
        return None
    return Path(np.concatenate(verts), np.concatenate(codes).astype(np.uint8))


def _fill(ax, geom, proj, **kw) -> bool:
    from matplotlib.patches import PathPatch

    p = _path(geom, proj)
    if p is None:
        return False
    ax.add_artist(PathPatch(p, **kw))  # not add_patch: the view is set by hand, so no data limits to update
    return True


def _lines(ax, geom, proj, **kw) -> bool:
    if geom is None or geom.is_empty:
        return False
    g = proj.to_metric(geom)
    drawn = False
    for part in shapely.get_parts(g):
        if part.geom_type != "LineString" or part.is_empty:
            continue
        xy = np.asarray(part.coords) / 1000.0
        ax.plot(xy[:, 0], xy[:, 1], solid_capstyle="round", **kw)
        kw.pop("label", None)  # one legend entry per call
        drawn = True
    return drawn


def _nice_km(span_km: float) -> float:
    """A round scale-bar length near a fifth of the map's width."""
    target = span_km / 5
    base = 10 ** np.floor(np.log10(target))
    return float(max(m * base for m in (1, 2, 5) if m * base <= target))


def map_figure(facts: ReportFacts, sides: list[str]):
    """The map of the region at T: ground, change since T0, front, necks, last road out, settlements."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sh = facts.shapes
    window = sh["window"]
    proj = LocalProjection.for_geometry(window)
    box_km = np.asarray(proj.to_metric(shapely.segmentize(window, 0.01)).bounds) / 1000.0
    aspect = float(np.clip((box_km[3] - box_km[1]) / (box_km[2] - box_km[0]), 0.45, 1.25))
    # The legend sits under the map, so the figure is the map's height plus a band for it.
    fig, ax = plt.subplots(figsize=(7.1, 7.1 * aspect + 1.0), layout="constrained")
    ax.set_facecolor(WATER_COLOUR)
    _frame(ax, box_km)
    handles = _draw_ground(ax, facts, proj, sides)
    handles += _draw_road(ax, sh, proj, facts.road.get("ranges_km", {}))
    handles += _draw_necks(ax, sh, proj)
    handles += _draw_places(ax, sh, proj, sides)
    _frame(ax, box_km)  # again: patches and lines must not widen the view
    _scale_and_north(ax)
    stamp = f"{facts.at['time'][:16].replace('T', ' ')} UTC · version {facts.at['version_id']}"
    _note(ax, (0.01, 0.99), stamp, ha="left", va="top", fontsize=8, fontweight="bold")
    _note(ax, (0.99, 0.005), ATTRIBUTION, ha="right", va="bottom", fontsize=5.5, color="#333333")
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=6.5, frameon=False)
    return fig


def _note(ax, at: tuple[float, float], text: str, **style) -> None:
    """Text at an axes position on a white backing, above everything drawn."""
    ax.text(
        *at,
        text,
        transform=ax.transAxes,
        zorder=9,
        bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1.5),
        **style,
    )


def _draw_ground(ax, facts: ReportFacts, proj: LocalProjection, sides: list[str]) -> list:
    """Held ground per side (the report side's ground abroad darker), grey zone, change, state border, front."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    sh, side = facts.shapes, facts.side
    handles: list[Any] = []
    for s in sides:
        if _fill(ax, sh["held"].get(s), proj, facecolor=side_colour(s, sides), edgecolor="none", zorder=1):
            handles.append(Patch(facecolor=side_colour(s, sides), label=f"held by {s}"))
    if _fill(ax, sh.get("abroad"), proj, facecolor=ABROAD_COLOURS.get(side, "#777777"), edgecolor="none", zorder=1):
        handles.append(Patch(facecolor=ABROAD_COLOURS.get(side, "#777777"), label=f"held by {side} outside its home"))
    if _fill(ax, sh["contested"], proj, facecolor=CONTESTED_COLOUR, edgecolor="none", zorder=1):
        handles.append(Patch(facecolor=CONTESTED_COLOUR, label="grey zone (contested)"))
    since = facts.since["time"][:10]
    if _fill(ax, sh["gained"], proj, facecolor=GAIN_COLOUR, edgecolor=GAIN_COLOUR, alpha=0.8, lw=0.8, zorder=2):
        handles.append(Patch(facecolor=GAIN_COLOUR, alpha=0.8, label=f"gained by {side} since {since}"))
    if _fill(ax, sh["lost"], proj, facecolor=LOSS_COLOUR, edgecolor=LOSS_COLOUR, alpha=0.8, lw=0.8, zorder=2):
        handles.append(Patch(facecolor=LOSS_COLOUR, alpha=0.8, label=f"lost by {side} since {since}"))
    if _lines(ax, sh.get("border"), proj, color="#444444", lw=0.7, ls=(0, (4, 2)), zorder=3):
        handles.append(Line2D([], [], color="#444444", lw=0.7, ls=(0, (4, 2)), label=f"{side}'s state border"))
    if _lines(ax, sh.get("front"), proj, color=FRONT_COLOUR, lw=0.9, zorder=4):
        handles.append(Line2D([], [], color=FRONT_COLOUR, lw=0.9, label="contact line"))
    return handles


def _frame(ax, box_km: np.ndarray) -> None:
    """Axes limits to the window's projected box (equal aspect, km), ticks off."""
    w, s, e, n = box_km.tolist()
    ax.set_xlim(w, e)
    ax.set_ylim(s, n)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _scale_and_north(ax) -> None:
    """A scale bar (bottom left) and a north arrow (below the date, top left)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    km = _nice_km(x1 - x0)
    bx, by = x0 + 0.03 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    ax.plot([bx, bx + km], [by, by], color="black", lw=3, solid_capstyle="butt", zorder=9)
    ax.plot([bx, bx + km / 2], [by, by], color="white", lw=1.5, solid_capstyle="butt", zorder=9)
    ax.text(bx + km / 2, by + 0.015 * (y1 - y0), f"{km:g} km", ha="center", va="bottom", fontsize=7, zorder=9)
    nx, ny = x0 + 0.04 * (x1 - x0), y1 - 0.20 * (y1 - y0)
    ax.annotate(
        "N",
        xy=(nx, ny + 0.08 * (y1 - y0)),
        xytext=(nx, ny),
        ha="center",
        va="top",
        fontsize=8,
        fontweight="bold",
        arrowprops=dict(arrowstyle="-|>", color="black", lw=1.2),
        zorder=9,
    )


def _draw_road(ax, sh: dict, proj: LocalProjection, ranges_km: dict[str, float]) -> list:
    """The last road out, each stretch coloured by its nearest fire-range band."""
    from matplotlib.lines import Line2D

    names = {"inside": "inside grey ground", "beyond": "beyond every range"}
    names |= {n: f"within {km:g} km ({n.replace('_', ' ')})" for n, km in ranges_km.items()}
    pieces = sh.get("road_pieces") or {}
    if not pieces and sh.get("road") is None:
        return []
    _lines(ax, sh.get("road"), proj, color="white", lw=3.2, zorder=5)
    out = [Line2D([], [], color="white", lw=0, label="last road out, by exposure:")]
    for band, colour in BAND_COLOURS.items():
        if _lines(ax, pieces.get(band), proj, color=colour, lw=2.0, zorder=6):
            out.append(Line2D([], [], color=colour, lw=2.0, label=f"  {names.get(band, band)}"))
    return out


def _draw_necks(ax, sh: dict, proj: LocalProjection) -> list:
    from matplotlib.lines import Line2D

    necks = sh.get("necks") or []
    for seg, width in necks:
        _lines(ax, seg, proj, color="#ffd400", lw=3.5, zorder=7)
        _lines(ax, seg, proj, color="black", lw=1.0, zorder=7)
        c = proj.to_metric(shapely.centroid(seg))
        ax.annotate(
            f"neck {width:,.0f} m",
            xy=(c.x / 1000, c.y / 1000),
            xytext=(10, 6),
            textcoords="offset points",
            fontsize=7,
            fontweight="bold",
            zorder=8,
            bbox=dict(facecolor="#ffd400", edgecolor="black", lw=0.5, pad=1.5),
            arrowprops=dict(arrowstyle="-", color="black", lw=0.6),
        )
    return [Line2D([], [], color="#ffd400", lw=3.5, label="neck (narrow corridor)")] if necks else []


def _draw_places(ax, sh: dict, proj: LocalProjection, sides: list[str]) -> list:
    from matplotlib.lines import Line2D

    places = sh.get("places") or []
    if not places:
        return []
    changed = set(sh.get("changed_names") or [])
    xy = shapely.get_coordinates(proj.to_metric(shapely.points([(p[1], p[2]) for p in places]))) / 1000.0
    colours = [STATUS_COLOURS.get(p[3], "#999999") for p in places]
    ax.scatter(xy[:, 0], xy[:, 1], s=9, c=colours, edgecolors="white", linewidths=0.5, zorder=8)
    order = sorted(range(len(places)), key=lambda i: (places[i][0] not in changed, -places[i][4]))
    x0, x1 = ax.get_xlim()
    for i in _uncluttered(xy, order, LABEL_GAP * (x1 - x0))[:LABELS_MAX]:
        name, _, _, status, _ = places[i]
        bold = name in changed
        right = xy[i, 0] > x0 + 0.8 * (x1 - x0)  # near the right edge the label goes to the left of its dot
        ax.annotate(
            f"{name}" + (f" ({status})" if bold else ""),
            xy=tuple(xy[i]),
            xytext=(-3 if right else 3, 2),
            ha="right" if right else "left",
            textcoords="offset points",
            fontsize=6.5 if bold else 5.5,
            fontweight="bold" if bold else "normal",
            color=STATUS_COLOURS.get(status, "#333333"),
            zorder=8,
            bbox=dict(facecolor="white", alpha=0.6, edgecolor="none", pad=0.3),
        )
    return [
        Line2D(
            [],
            [],
            marker="o",
            lw=0,
            color=STATUS_COLOURS[s],
            markersize=4,
            label=f"settlement held by {s}" if s != "contested" else "settlement in grey zone",
        )
        for s in [*sides, "contested"]
        if s in STATUS_COLOURS
    ]


CHART_FROM_SHARE = 0.1  # the chart starts a month before the side first held this share of its peak


def chart_start(facts: ReportFacts) -> int:
    """Index of the first series row the chart shows: years of nothing before a salient would flatten it."""
    rows, key = facts.series, f"{facts.side}_km2"
    vals = [r.get(key) or 0.0 for r in rows]
    peak = max(vals, default=0.0)
    first = next((i for i, v in enumerate(vals) if peak and v >= CHART_FROM_SHARE * peak), 0)
    t = datetime.fromisoformat(rows[first]["time"].replace("Z", "+00:00")).timestamp() - 30 * 86400 if rows else 0
    return next(
        (i for i, r in enumerate(rows) if datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() >= t), 0
    )


def _uncluttered(xy: np.ndarray, order: list[int], gap: float) -> list[int]:
    """Indices in ``order`` whose point lies at least ``gap`` from every point kept before it (labels apart)."""
    kept: list[int] = []
    for i in order:
        if all(abs(xy[i, 0] - xy[j, 0]) >= gap or abs(xy[i, 1] - xy[j, 1]) >= gap / 3 for j in kept):
            kept.append(i)
        if len(kept) == LABELS_MAX:
            break
    return kept


def area_figure(facts: ReportFacts, sides: list[str]):
    """Km² of the report's side and the grey zone in the region per version, start of the series to T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    rows = facts.series[chart_start(facts) :]
    times = mdates.date2num([datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in rows])
    fig, ax = plt.subplots(figsize=(7.1, 2.6), layout="constrained")
    for what in (facts.side, "contested"):
        ys = np.array([np.nan if r.get(f"{what}_km2") is None else r[f"{what}_km2"] for r in rows], dtype=float)
        colour = CONTESTED_COLOUR if what == "contested" else side_colour(what, sides)
        edge = "#666666" if what == "contested" else {"ua": "#1f4e9c", "ru": "#a50f15"}.get(what, "#333333")
        ax.fill_between(times, ys, color=colour, alpha=0.6, step="post")
        ax.step(
            times, ys, where="post", color=edge, lw=1.0, label=f"{what} km²" if what != "contested" else "grey zone km²"
        )
    for key, style, y in (("since", ":", 0.90), ("at", "-", 0.99)):
        when = datetime.fromtimestamp(getattr(facts, key)["t"], tz=UTC)
        t = float(mdates.date2num(when))
        ax.axvline(t, color="black", ls=style, lw=0.9)
        ax.annotate(
            ("T0 " if key == "since" else "T ") + when.strftime("%Y-%m-%d"),
            xy=(t, y),
            xycoords=("data", "axes fraction"),
            xytext=(-3, 0),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=7,
            bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=0.5),
        )
    ax.set_ylabel("km² (geodesic, clipped)", fontsize=7)
    ax.tick_params(labelsize=7)
    locator = mdates.AutoDateLocator()  # the x values are matplotlib day numbers: date ticks by hand
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(fontsize=7, loc="upper left")
    return fig
