"""Result types of the corridor analysis: necks, their parts, pockets and the report, with their GeoJSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry import LineString, Point, mapping
from shapely.geometry.base import BaseGeometry

from frontline.geodesy import LocalProjection

MODE_HELD = "held only"
MODE_HELD_CONTESTED = "held+contested"
NECK_SPLIT = "split"
NECK_HOME_LINK = "home_link"

#: What a neck's bank faces: enemy-held ground, the grey zone, home's border
#: (the side's own home beyond it, or the undisputed state border), the side's
#: own ground, nothing (sea, inland water, land outside the theatre), or
#: unknown (no ``enemy`` given).
BANK_LABELS = ("enemy", "grey", "border", "own", "sea", "unknown")


def _geojson(geom: BaseGeometry | None) -> dict | None:
    """GeoJSON dict with plain lists and floats, so ``json.dumps`` always works."""
    if geom is None or geom.is_empty:
        return None

    def listify(x):
        if isinstance(x, (tuple, list)):
            return [listify(v) for v in x]
        if isinstance(x, dict):
            return {k: listify(v) for k, v in x.items()}
        if isinstance(x, (np.floating, float)):
            return float(x)
        return x

    return listify(mapping(geom))


@dataclass
class NeckPart:
    """One side of a neck.

    Attributes
    ----------
    area_km2
        Geodesic area of the side (the component cut along the neck segment).
    share
        ``area_km2`` as a fraction of the neck's base area (``Neck.base``):
        the whole component, or for necks of ground reaching into home the
        component's ground outside home (then the side is part of that
        ground).
    touches_home
        Whether the side reaches home's border (``home_border_km`` longer than
        twice the tolerance). Always False without ``home``.
    home_border_km
        Geodesic length of home's border within the tolerance of this side.
    cut_off
        True for the side that would be isolated: the side without home for
        ``home_link``; for ``split`` the side with the shorter border on home
        when both reach it, else the smaller side.
    geometry
        The side in lon/lat. Not serialised by default (it can be the whole
        main body); see :meth:`to_dict`.
    """

    area_km2: float
    share: float
    touches_home: bool
    home_border_km: float
    cut_off: bool
    _geom_m: Any = field(default=None, repr=False, compare=False)  # metric geometry, or a function making it
    _proj: LocalProjection | None = field(default=None, repr=False, compare=False)
    _geom_ll: BaseGeometry | None = field(default=None, repr=False, compare=False)

    @property
    def geometry(self) -> BaseGeometry | None:
        """The side in lon/lat, converted on first use (it may be a whole country's worth)."""
        if self._geom_ll is None and self._geom_m is not None and self._proj is not None:
            g = self._geom_m() if callable(self._geom_m) else self._geom_m
            self._geom_ll = self._proj.to_lonlat(g)
        return self._geom_ll

    def to_dict(self, with_geometry: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "area_km2": float(self.area_km2),
            "share": float(self.share),
            "touches_home": bool(self.touches_home),
            "home_border_km": float(self.home_border_km),
            "cut_off": bool(self.cut_off),
        }
        if with_geometry:
            d["geometry"] = _geojson(self.geometry)
        return d


@dataclass
class Neck:
    """A narrow passage whose closure would cut held ground in two.

    Attributes
    ----------
    type
        ``"split"`` or ``"home_link"`` (see ``docs/corridors.md``).
    width_m
        Length of ``segment``: the narrowest crossing of the passage.
    length_m
        Length of the stretch where the passage stays narrower than
        1.5 × ``width_m`` (mean length of its two banks).
    segment
        LineString across the neck, bank to bank, lon/lat.
    location
        Midpoint of ``segment``, lon/lat.
    parts
        The two sides, the cut-off side first.
    risk, rank
        Ground at stake weighted by narrowness, km²:
        ``cut_off_km2 × exp(−width_m / alert_width_m)``; rank 1 is the
        highest.
    below_threshold
        ``width_m < alert_width_m``.
    base, base_km2
        What ``share`` is relative to: ``"component"`` or ``"outside_home"``,
        and that area.
    component_km2
        Area of the whole connected component the neck lies in.
    banks
        What lies beyond each end of ``segment`` (one of
        :data:`BANK_LABELS` each); at least one is ``"enemy"`` or
        ``"grey"`` when ``enemy`` was given.
    """

    type: str
    width_m: float
    length_m: float
    segment: LineString
    location: Point
    parts: list[NeckPart]
    risk: float
    below_threshold: bool
    base: str
    base_km2: float
    component_km2: float
    rank: int = 0
    banks: tuple[str, str] = ("unknown", "unknown")
    _job: Any = field(default=None, repr=False, compare=False)  # (ground, boundary, p1, p2, width), metres

    @property
    def cut_off_km2(self) -> float:
        """Ground beyond the neck (the cut-off side), km²."""
        return float(self.parts[0].area_km2)

    @property
    def cut_off_share(self) -> float:
        """The cut-off side's share of the base (component or salient)."""
        return float(self.parts[0].share)

    def to_dict(self, with_geometry: bool = False) -> dict[str, Any]:
        return {
            "rank": int(self.rank),
            "type": self.type,
            "width_m": float(self.width_m),
            "length_m": float(self.length_m),
            "cut_off_km2": self.cut_off_km2,
            "cut_off_share": self.cut_off_share,
            "banks": list(self.banks),
            "risk": float(self.risk),
            "below_threshold": bool(self.below_threshold),
            "location": [float(self.location.x), float(self.location.y)],
            "segment": _geojson(self.segment),
            "base": self.base,
            "base_km2": float(self.base_km2),
            "component_km2": float(self.component_km2),
            "parts": [p.to_dict(with_geometry) for p in self.parts],
        }


@dataclass
class Pocket:
    """A component of held ground cut off from the main body and from home.

    ``front_km`` is the length of its outline facing enemy-held or grey
    ground (None when ``enemy`` was not given).
    """

    area_km2: float
    centroid: Point
    geometry: BaseGeometry = field(repr=False)
    front_km: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "area_km2": float(self.area_km2),
            "centroid": [float(self.centroid.x), float(self.centroid.y)],
            "front_km": None if self.front_km is None else float(self.front_km),
            "geometry": _geojson(self.geometry),
        }


@dataclass
class CorridorReport:
    """Necks and pockets of one side's ground at one time.

    Attributes
    ----------
    mode
        ``"held only"`` or ``"held+contested"``.
    rule
        The significance rule, in words, with the numbers used.
    necks
        Ranked by risk (ground at stake), highest first.
    pockets
        Largest first.
    left_out
        ``{"necks": n, "pockets": m}``: found but left out because they
        face no enemy or grey ground (sea spits, islands, border strips).
    params
        The parameters the analysis ran with.
    ground_km2, n_components, main_body_km2
        Size of the analysed ground, its number of connected components and
        the area of the largest one.
    elapsed_s
        Wall time of the analysis.
    """

    mode: str
    rule: str
    necks: list[Neck]
    pockets: list[Pocket]
    params: dict[str, Any]
    ground_km2: float
    n_components: int
    main_body_km2: float
    elapsed_s: float
    left_out: dict[str, int] = field(default_factory=lambda: {"necks": 0, "pockets": 0})

    @property
    def top(self) -> Neck | None:
        """The rank-1 neck (most ground at stake), or None."""
        return self.necks[0] if self.necks else None

    def summary(self, min_ground_share: float = 0.0) -> dict[str, Any]:
        """One row for a series: the neck with the most ground at stake, and counts.

        Parameters
        ----------
        min_ground_share
            Only necks whose cut-off side holds at least this share of all
            the ground analysed are candidates (a 3 km² border patch is no
            part of the story of a 900 km² salient).

        Returns
        -------
        dict
            ``width_m``, ``cut_off_km2``, ``cut_off_share`` (of its base),
            ``ground_share`` (of all the ground), ``rank``, ``type``,
            ``banks`` and ``location`` of the best-ranked candidate (None
            when there is none); ``narrowest_m`` is the narrowest neck's
            width; ``n_necks``, ``n_below_threshold``, ``n_pockets``,
            ``ground_km2`` and ``mode`` describe the whole report.
        """
        total = float(self.ground_km2) or 1.0
        top = next((n for n in self.necks if n.cut_off_km2 >= min_ground_share * total), None)
        return {
            "rank": int(top.rank) if top else None,
            "width_m": round(float(top.width_m), 1) if top else None,
            "cut_off_km2": round(top.cut_off_km2, 3) if top else None,
            "cut_off_share": round(top.cut_off_share, 4) if top else None,
            "ground_share": round(top.cut_off_km2 / total, 4) if top else None,
            "type": top.type if top else None,
            "banks": list(top.banks) if top else None,
            "location": [round(float(top.location.x), 5), round(float(top.location.y), 5)] if top else None,
            "narrowest_m": round(min(float(n.width_m) for n in self.necks), 1) if self.necks else None,
            "n_necks": len(self.necks),
            "n_below_threshold": sum(bool(n.below_threshold) for n in self.necks),
            "n_pockets": len(self.pockets),
            "ground_km2": round(float(self.ground_km2), 3),
            "mode": self.mode,
        }

    def to_dict(self, with_geometry: bool = False) -> dict[str, Any]:
        """JSON-serialisable dict; ``with_geometry`` adds each side's polygon."""
        return {
            "mode": self.mode,
            "rule": self.rule,
            "params": dict(self.params),
            "ground_km2": float(self.ground_km2),
            "n_components": int(self.n_components),
            "main_body_km2": float(self.main_body_km2),
            "elapsed_s": float(self.elapsed_s),
            "left_out": dict(self.left_out),
            "necks": [n.to_dict(with_geometry) for n in self.necks],
            "pockets": [p.to_dict() for p in self.pockets],
        }

    def to_geojson(self) -> dict[str, Any]:
        """FeatureCollection for the web map: neck segments and pocket polygons."""
        feats = []
        for n in self.necks:
            cut = n.parts[0]
            feats.append(
                {
                    "type": "Feature",
                    "geometry": _geojson(n.segment),
                    "properties": {
                        "kind": "neck",
                        "mode": self.mode,
                        "rank": int(n.rank),
                        "neck_type": n.type,
                        "width_m": round(float(n.width_m), 1),
                        "length_m": round(float(n.length_m), 1),
                        "label": f"{n.width_m:,.0f} m",
                        "risk": round(float(n.risk), 4),
                        "below_threshold": bool(n.below_threshold),
                        "cut_off_km2": round(float(cut.area_km2), 3),
                        "cut_off_share": round(float(cut.share), 4),
                        "banks": list(n.banks),
                    },
                }
            )
        for i, p in enumerate(self.pockets):
            feats.append(
                {
                    "type": "Feature",
                    "geometry": _geojson(p.geometry),
                    "properties": {
                        "kind": "pocket",
                        "mode": self.mode,
                        "index": i,
                        "area_km2": round(float(p.area_km2), 3),
                        "front_km": None if p.front_km is None else round(float(p.front_km), 3),
                        "label": f"pocket {p.area_km2:,.1f} km²",
                    },
                }
            )
        return {"type": "FeatureCollection", "features": feats}
