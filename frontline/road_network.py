"""The road network type: roads as parallel arrays of lines and their attributes, in lon/lat.

Readers (:mod:`frontline.sources.osm`: OSM PBF, GDAL line layers) produce :class:`Roads`; the store keeps them
(:mod:`frontline.store.reference`); the road analyses (:mod:`frontline.analysis.roads`) read them. It lives in
the model layer so that none of them depends on another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from .geodesy import geodesic_lengths_m

__all__ = ["Roads"]


@dataclass
class Roads:
    """A road network as parallel arrays, in lon/lat (EPSG:4326).

    Attributes
    ----------
    geometry
        Object array of shapely LineStrings, one per road (an OSM way, a
        feature's line, or a merged route).
    ids
        Feature ids as text: ``"w123"`` for OSM ways, the file's id field or
        FID otherwise, ``"ref=M03"`` (``"ref=M03#2"``) for merged routes.
    names, names_en, refs, classes
        Text arrays (``""`` when absent); ``classes`` holds the ``highway`` value.
    source
        The file the roads came from, for messages.
    problems
        One line per feature skipped or repaired, naming the file and feature id.
    """

    geometry: np.ndarray
    ids: np.ndarray
    names: np.ndarray
    names_en: np.ndarray
    refs: np.ndarray
    classes: np.ndarray
    source: str = ""
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.geometry = np.asarray(self.geometry, dtype=object).reshape(-1)
        n = len(self.geometry)
        for name in ("ids", "names", "names_en", "refs", "classes"):
            arr = np.asarray(getattr(self, name), dtype=object).reshape(-1)
            if len(arr) != n:
                raise ValueError(f"Roads.{name} has {len(arr)} entries for {n} geometries.")
            setattr(self, name, np.array(["" if v is None else str(v) for v in arr], dtype=object))

    def __len__(self) -> int:
        return len(self.geometry)

    def __getitem__(self, idx) -> Roads:
        """A subset (boolean mask, index array or slice) with the same ``source`` and ``problems``."""
        return Roads(
            self.geometry[idx],
            self.ids[idx],
            self.names[idx],
            self.names_en[idx],
            self.refs[idx],
            self.classes[idx],
            source=self.source,
            problems=list(self.problems),
        )

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of all roads."""
        return tuple(shapely.total_bounds(self.geometry))

    def labels(self) -> np.ndarray:
        """Human labels: ``"M03 Kyiv–Kharkiv"``, the name, the ref, or ``highway`` class + id."""
        out = []
        for ref, name, name_en, cls, fid in zip(self.refs, self.names, self.names_en, self.classes, self.ids):
            nm = name_en or name
            if ref and nm:
                out.append(f"{ref} {nm}")
            else:
                out.append(ref or nm or f"{cls or 'road'} {fid}")
        return np.array(out, dtype=object)

    def lengths_km(self) -> np.ndarray:
        """Geodesic length of each road in km (WGS84)."""
        return geodesic_lengths_m(self.geometry) / 1000.0
