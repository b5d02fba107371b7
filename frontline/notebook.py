"""A store opened for notebooks: versions, state, areas and analyses as (Geo)DataFrames.

``import frontline; st = frontline.open("frontline.gpkg")`` gives a :class:`Notebook`. Each method calls the
same public analysis function the CLI command of the same name calls, so a notebook and ``frontline … --json``
agree. pandas and GeoPandas are optional (``pip install 'frontline[notebook]'``); a method that needs one says
so when it is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, StoreError
from .model import ControlMap, iso
from .store import GeoPackageStore, open_store
from .times import TimeLike

EXTRA = "pip install 'frontline[notebook]'"


def _pandas() -> Any:
    """The pandas module, or an ImportError that says how to install it."""
    try:
        import pandas
    except ImportError:
        raise ImportError(f"this needs pandas: {EXTRA}") from None
    return pandas


def _geopandas() -> Any:
    """The geopandas module, or an ImportError that says how to install it."""
    try:
        import geopandas
    except ImportError:
        raise ImportError(f"this needs GeoPandas: {EXTRA}") from None
    return geopandas


def geodataframe(result: Any) -> Any:
    """A GeoDataFrame (EPSG:4326) of anything with ``to_geojson()``: a change, a contact line, corridors."""
    gj = result.to_geojson() if hasattr(result, "to_geojson") else result
    return _geopandas().GeoDataFrame.from_features(gj["features"], crs="EPSG:4326")


@dataclass
class State:
    """The partition at one time: a side's held ground and the grey zone, with geodesic km²."""

    control_map: ControlMap
    rows: list[tuple[dict, Any]]

    @property
    def version_id(self) -> str:
        """The version that answers."""
        return self.control_map.version_id

    @property
    def time(self) -> str | None:
        """The version's valid time (ISO, UTC)."""
        return iso(self.control_map.valid_time)

    def to_geodataframe(self) -> Any:
        """One row per side (status ``held``) and one ``contested``: status, side, area_km2, version, geometry."""
        props = [p for p, _ in self.rows]
        return _geopandas().GeoDataFrame(props, geometry=[g for _, g in self.rows], crs="EPSG:4326")


class Notebook:
    """A store opened read-only for analysis in Python (see :func:`frontline.open`).

    Parameters
    ----------
    path
        The store (a ``.gpkg`` made by ``frontline import``); ``$FRONTLINE_STORE`` or ``./frontline.gpkg`` when
        None.
    source
        Source name; the store's default source when None.
    """

    def __init__(self, path: Path | str | None = None, source: str | None = None):
        try:
            self.store: GeoPackageStore = open_store(path, readonly=True)
        except (FileNotFoundError, ValueError) as exc:
            raise StoreError(str(exc)) from None
        self.source = source

    def __enter__(self) -> Notebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<frontline store {self.store.path}>"

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def versions(self) -> Any:
        """A DataFrame of the versions, oldest first: version_id, time (UTC), revision, n_features, origin."""
        pd = _pandas()
        rows = [
            {
                "version_id": v.version_id,
                "time": pd.Timestamp(v.valid_time, unit="s", tz="UTC"),
                "revision": v.revision,
                "n_features": v.n_features,
                "origin": v.origin,
            }
            for v in self.store.versions(self.source)
        ]
        return pd.DataFrame(rows, columns=["version_id", "time", "revision", "n_features", "origin"])

    def state(self, at: TimeLike = None) -> State:
        """The partition valid at ``at`` (ISO text, a date, epoch seconds; the latest version when None)."""
        from .export import control_layers

        cmap, rows, _ = control_layers(self.store, at, self.source)
        return State(cmap, rows)

    def area(self, at: TimeLike = None, region: str = "ukraine", convention: str = "clipped") -> Any:
        """A DataFrame of the km² per side and contested at one time (as ``frontline area --at``)."""
        from .analysis.area import areas_at

        return _pandas().DataFrame(areas_at(self.store, at, region=region, convention=convention, source=self.source))

    def area_series(
        self,
        region: str = "ukraine",
        every: str | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        convention: str = "clipped",
    ) -> Any:
        """A DataFrame of km² per version, or per ``every`` (day, week, month) period (as ``frontline area``)."""
        from .analysis.area import area_series

        rows = area_series(
            self.store, region=region, every=every, start=start, end=end, convention=convention, source=self.source
        )
        df = _pandas().DataFrame(rows)
        if "time" in df:
            df["time"] = _pandas().to_datetime(df["time"], utc=True)
        return df

    def change(self, t1: TimeLike, t2: TimeLike) -> Any:
        """Ground gained and lost between two times: a ChangeReport (``rows``, ``totals``, ``to_geojson()``)."""
        from .analysis.change import change_between

        return change_between(self.store, t1, t2, source=self.source)

    def contact_line(self, at: TimeLike = None) -> Any:
        """The front line at a time: a ContactLine (``to_dict()`` lengths per pair, ``to_geojson()``)."""
        from .analysis.contact_line import contact_line
        from .state import resolve_version, version_control

        v = resolve_version(self.store, at, self.source)
        cl = contact_line(version_control(self.store, v))
        cl.source, cl.version_id, cl.valid_time = v.source, v.version_id, iso(v.valid_time)
        return cl

    def corridors(
        self,
        at: TimeLike = None,
        side: str = "ua",
        scope: str = "abroad",
        include_contested: bool = False,
        threshold_m: float = 1000.0,
    ) -> Any:
        """Necks and pockets of a side's ground at a time (as ``frontline corridors``): a report with ``to_dict()``.

        Parameters
        ----------
        side, scope, include_contested, threshold_m
            As ``--side``, ``--scope`` (``abroad`` or ``all``), ``--include-contested``, ``--threshold-m``.
        """
        from .analysis.corridors import corridor_inputs, find_necks
        from .state import resolve_version, version_control

        v = resolve_version(self.store, at, self.source)
        vc = version_control(self.store, v)
        if side not in vc.sides:
            raise InputError(f"unknown side {side!r}; the store's sides are {', '.join(vc.sides)}", field="side")
        ground = corridor_inputs(vc, side, scope, include_contested)
        if ground["held"].is_empty:
            raise InputError(f"side {side!r} holds no ground ({scope}) at {v.version_id} ({iso(v.valid_time)})")
        return find_necks(**ground, alert_width_m=threshold_m)

    def settlements(self, at: TimeLike = None) -> Any:
        """A DataFrame of who holds each stored settlement at a time: id, name, lon, lat, status."""
        import numpy as np

        from .analysis.settlements import settlement_status
        from .state import state_at
        from .store.reference import load_settlements

        gz = load_settlements(self.store)
        if gz is None:
            raise InputError(
                "holds no settlements: run `frontline settlements import` first", where=str(self.store.path)
            )
        cmap, _ = state_at(self.store, at, self.source)
        status = settlement_status(gz, cmap)
        return _pandas().DataFrame(
            {
                "id": np.asarray(gz.ids, dtype="int64"),
                "name": [str(n) for n in gz.names],
                "lon": np.asarray(gz.lon, dtype=float),
                "lat": np.asarray(gz.lat, dtype=float),
                "status": [None if s is None else str(s) for s in status],
            }
        )


def open_notebook(path: Path | str | None = None, source: str | None = None) -> Notebook:
    """Open a store read-only for notebooks (what :func:`frontline.open` returns)."""
    return Notebook(path, source)


__all__ = ["Notebook", "State", "geodataframe", "open_notebook"]
