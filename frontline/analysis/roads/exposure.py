"""Road exposure: km of each road within each fire range of the enemy or grey ground, at a time and over versions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry

from frontline.geodesy import LocalProjection, geodesic_lengths_m
from frontline.model import ControlMap, iso
from frontline.road_network import Roads

from .threat import (
    _EPS_KM,
    BEYOND,
    DEFAULT_SIMPLIFY_M,
    INSIDE,
    _band_colours,
    _check_inputs,
    _map_name,
    _sides,
    _threat_near,
    reach_window,
)


def _cumulative(band_km: np.ndarray, total_km: np.ndarray) -> np.ndarray:
    """Exposed km within each range (columns 1..) from band km; clipped to the line's length."""
    cum = np.cumsum(band_km, axis=1)[:, 1:]
    return np.minimum(cum, total_km[:, None])


def _share(exposed: np.ndarray, total: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(total[:, None] > 0, exposed / total[:, None], 0.0)
    return np.clip(s, 0.0, 1.0)


def _road_props(roads: Roads, i: int, labels: np.ndarray) -> dict[str, Any]:
    return {
        "road": int(i),
        "id": roads.ids[i],
        "label": labels[i],
        "name": roads.names[i],
        "name_en": roads.names_en[i],
        "ref": roads.refs[i],
        "class": roads.classes[i],
    }


def _feature(geom: BaseGeometry, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": mapping(geom), "properties": props}


def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


class ExposureTable(list):
    """A list of per-road exposure rows (plain, JSON-ready dicts) with map output.

    Each row has ``road`` (index into the Roads), ``id``, ``label``, ``name``,
    ``name_en``, ``ref``, ``class``, ``length_km``, ``inside_km`` (inside enemy
    or contested ground), ``exposed_km`` and ``exposed_share`` (dicts keyed by
    range name, nearest range first) and ``worst`` (the nearest band the road
    enters: ``"inside"``, a range name, or ``"beyond"``).
    """

    def __init__(
        self,
        rows,
        *,
        side: str,
        ranges_km: dict[str, float],
        control_map: ControlMap,
        geometry: np.ndarray,
        pieces: list[np.ndarray],
        band_names: list[str],
    ):
        super().__init__(rows)
        self.side = side
        self.ranges_km = ranges_km
        self.source = control_map.source
        self.version_id = control_map.version_id
        self.valid_time = iso(control_map.valid_time)
        self._geometry = geometry
        self._pieces = pieces
        self._band_names = band_names

    def to_geojson(self, *, segments: bool = True) -> dict[str, Any]:
        """A GeoJSON FeatureCollection for the web map, coloured by exposure.

        Parameters
        ----------
        segments
            True (default): each road is cut into pieces by band (inside, each
            range ring, beyond), each piece a feature with ``band`` and
            ``colour``. False: one feature per road coloured by its worst band.
        """
        colours = _band_colours(self._band_names[1:])
        features = []
        for j, row in enumerate(self):
            props = {k: row[k] for k in ("road", "id", "label", "name", "ref", "class")}
            props.update(
                length_km=_r(row["length_km"]),
                inside_km=_r(row["inside_km"]),
                **{f"exposed_km_{n}": _r(v) for n, v in row["exposed_km"].items()},
                **{f"exposed_share_{n}": _r(v, 4) for n, v in row["exposed_share"].items()},
                worst=row["worst"],
            )
            if not segments:
                features.append(_feature(self._geometry[j], {**props, "colour": colours[row["worst"]]}))
                continue
            for k, band in enumerate(self._band_names + [BEYOND]):
                g = self._pieces[k][j]
                if g is None or g.is_empty:
                    continue
                g = _lines_only(g)
                if g is None:
                    continue
                features.append(_feature(g, {**props, "band": band, "colour": colours[band]}))
        return {
            "type": "FeatureCollection",
            "features": features,
            "properties": {
                "side": self.side,
                "source": self.source,
                "version_id": self.version_id,
                "valid_time": self.valid_time,
                "ranges_km": dict(self.ranges_km),
                "colours": colours,
            },
        }


def _lines_only(g: BaseGeometry) -> BaseGeometry | None:
    parts = shapely.get_parts(g)
    while len(parts) and (shapely.get_type_id(parts) >= 4).any():  # nested collections
        parts = shapely.get_parts(parts)
    parts = [p for p in parts if p.geom_type == "LineString" and not p.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiLineString(parts)


def _interest(roads: Roads, tree: shapely.STRtree, own: BaseGeometry, how: str) -> np.ndarray:
    if how == "all":
        return np.arange(len(roads))
    if how != "held":
        raise ValueError(f"roads_of_interest must be 'held' or 'all', not {how!r}.")
    shapely.prepare(own)
    return np.unique(tree.query(own, predicate="intersects"))


def road_exposure(
    roads: Roads,
    control_map: ControlMap,
    side: str,
    ranges_km: Mapping[str, float] | None = None,
    *,
    roads_of_interest: str = "held",
    simplify_m: float = DEFAULT_SIMPLIFY_M,
) -> ExposureTable:
    """Length and share of each of a side's roads within fire range of the enemy.

    Parameters
    ----------
    roads
        The road network (lon/lat), e.g. from :func:`frontline.sources.osm.read_roads`.
    control_map
        The situation to measure against.
    side
        Whose roads: the enemy is every other side; contested ground counts as enemy.
    ranges_km
        ``{name: km}`` ranges from the enemy/contested edge; default
        :data:`DEFAULT_RANGES_KM`.
    roads_of_interest
        ``"held"`` (default): roads touching ground ``side`` holds; ``"all"``: every road.
    simplify_m
        Simplification tolerance for the enemy ground before buffering.

    Returns
    -------
    ExposureTable
        One row per road of interest, in the order of ``roads``; see
        :class:`ExposureTable`. ``to_geojson()`` gives the map layer.

    Raises
    ------
    ValueError
        No roads, ``side`` missing from the map or holding nothing, bad
        ranges, or no road touching ``side``'s ground.
    """
    ranges = _check_inputs(roads, ranges_km)
    own, _, ground = _sides(control_map, side, reach_window(roads.bounds, ranges[-1][1] + 5.0))
    tree_ll = shapely.STRtree(roads.geometry)
    idx = _interest(roads, tree_ll, own, roads_of_interest)
    if len(idx) == 0:
        raise ValueError(
            f"None of the {len(roads)} roads (bounds {tuple(round(b, 3) for b in roads.bounds)}) touches ground "
            f"held by {side!r} in {_map_name(control_map)}; are the roads for this area and in lon/lat?"
        )
    lines_ll = roads.geometry[idx]
    proj, lines_m, total = _project_lines(lines_ll)
    threat = _threat_near(lines_m, ground, proj, ranges, simplify_m)
    band_km, pieces = threat.measure(lines_ll, lines_m, total, pieces=True)
    rows = _exposure_rows(roads, idx, total, band_km, ranges)
    return ExposureTable(
        rows,
        side=side,
        ranges_km=dict(ranges),
        control_map=control_map,
        geometry=lines_ll,
        pieces=pieces or [],
        band_names=threat.names,
    )


def _project_lines(lines_ll: np.ndarray) -> tuple[LocalProjection, np.ndarray, np.ndarray]:
    proj = LocalProjection.for_geometry(box(*shapely.total_bounds(lines_ll)))
    return proj, proj.to_metric(lines_ll), geodesic_lengths_m(lines_ll) / 1000.0


def _worst(band_km_row: np.ndarray, names: list[str]) -> str:
    hit = np.flatnonzero(band_km_row > _EPS_KM)
    return names[hit[0]] if len(hit) else BEYOND


def _exposure_rows(
    roads: Roads, idx: np.ndarray, total: np.ndarray, band_km: np.ndarray, ranges: list[tuple[str, float]]
) -> list[dict[str, Any]]:
    names = [n for n, _ in ranges]
    exposed = _cumulative(band_km, total)
    share = _share(exposed, total)
    labels = roads.labels()
    rows = []
    for j, i in enumerate(idx):
        row = _road_props(roads, i, labels)
        row.update(
            length_km=float(total[j]),
            inside_km=float(min(band_km[j, 0], total[j])),
            exposed_km={n: float(exposed[j, k]) for k, n in enumerate(names)},
            exposed_share={n: float(share[j, k]) for k, n in enumerate(names)},
            worst=_worst(band_km[j], [INSIDE] + names),
        )
        rows.append(row)
    return rows


def exposure_series(
    roads: Roads,
    maps: Iterable[ControlMap],
    side: str,
    ranges_km: Mapping[str, float] | None = None,
    *,
    roads_of_interest: str = "held",
    simplify_m: float = DEFAULT_SIMPLIFY_M,
) -> list[dict[str, Any]]:
    """Exposure of each road over a sequence of control maps.

    Parameters
    ----------
    roads, side, ranges_km, roads_of_interest, simplify_m
        As for :func:`road_exposure`.
    maps
        Control maps, in any order (sorted by ``valid_time`` here).

    Returns
    -------
    list of dict
        One entry per road that is of interest on at least one date, with the
        road's attributes, ``length_km`` and aligned lists: ``times`` (ISO
        UTC), ``touches_held`` (whether the road touches ``side``'s ground on
        that date), ``inside_km``, and ``exposed_km`` / ``exposed_share`` as
        ``{range: [value per time]}``. Every road is measured on every date, so
        a road overrun by the enemy shows as fully inside/exposed.
    """
    ranges = _check_inputs(roads, ranges_km)
    maps = sorted(maps, key=lambda m: m.valid_time)
    if not maps:
        raise ValueError("exposure_series needs at least one control map.")
    tree_ll = shapely.STRtree(roads.geometry)
    per_map = []
    interest = np.zeros(len(roads), dtype=bool)
    window = reach_window(roads.bounds, ranges[-1][1] + 5.0)
    for cm in maps:
        own, _, ground = _sides(cm, side, window)
        idx = _interest(roads, tree_ll, own, roads_of_interest)
        touches = np.zeros(len(roads), dtype=bool)
        touches[idx] = True
        interest |= touches
        per_map.append((cm, ground, touches))
    idx = np.flatnonzero(interest)
    if len(idx) == 0:
        raise ValueError(
            f"None of the {len(roads)} roads touches ground held by {side!r} on any of the {len(maps)} maps."
        )
    lines_ll = roads.geometry[idx]
    proj, lines_m, total = _project_lines(lines_ll)
    tree_m = shapely.STRtree(lines_m)
    names = [n for n, _ in ranges]
    inside = np.zeros((len(idx), len(maps)))
    exposed = np.zeros((len(idx), len(maps), len(names)))
    for t, (_, ground, _) in enumerate(per_map):
        threat = _threat_near(lines_m, ground, proj, ranges, simplify_m)
        band_km, _ = threat.measure(lines_ll, lines_m, total, tree=tree_m)
        inside[:, t] = np.minimum(band_km[:, 0], total)
        exposed[:, t, :] = _cumulative(band_km, total)
    times = [iso(cm.valid_time) for cm, _, _ in per_map]
    labels = roads.labels()
    out = []
    for j, i in enumerate(idx):
        row = _road_props(roads, int(i), labels)
        L = float(total[j])
        row.update(
            length_km=L,
            times=list(times),
            touches_held=[bool(tm[i]) for _, _, tm in per_map],
            inside_km=[float(v) for v in inside[j]],
            exposed_km={n: [float(v) for v in exposed[j, :, k]] for k, n in enumerate(names)},
            exposed_share={
                n: [float(min(v / L, 1.0)) if L > 0 else 0.0 for v in exposed[j, :, k]] for k, n in enumerate(names)
            },
        )
        out.append(row)
    return out
