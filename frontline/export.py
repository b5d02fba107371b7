"""Write the state at a time to GeoJSON, GeoPackage, KML or CSV through GDAL."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely

from . import geodesy
from .errors import InputError
from .model import CONTESTED, iso
from .state import state_at
from .store import GeoPackageStore

FORMATS = {"geojson": "GeoJSON", "gpkg": "GPKG", "kml": "KML", "csv": "CSV"}
SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".kml": "kml", ".csv": "csv"}


def control_layers(store: GeoPackageStore, at=None, source: str | None = None, complement: bool = True):
    """Rows of the partition at a time: one polygon per side and one contested.

    Parameters
    ----------
    complement
        Include each side's ground inside its own home (large polygons); when
        False only ground held abroad and contested ground are given.
    """
    cmap, feats = state_at(store, at, source)
    vc = cmap.control
    rows = []
    for side in vc.sides:
        g = vc.held(side) if complement else vc.abroad(side)
        rows.append(({"status": "held", "side": side}, g))
    rows.append(({"status": "contested", "side": None}, vc.contested))
    for props, g in rows:
        props["area_km2"] = round(geodesy.area_km2(g), 3)
        props["version_id"] = cmap.version_id
        props["time"] = iso(cmap.valid_time)
    return cmap, rows, [f for f in feats if f.kind != "area"]


def export_state(
    store: GeoPackageStore,
    path: Path | str,
    at=None,
    fmt: str | None = None,
    source: str | None = None,
    *,
    overwrite: bool = False,
) -> dict:
    """Export the partition (and point layers) at a time.

    Parameters
    ----------
    path
        Output file; its suffix chooses the format unless ``fmt`` is given.
    at
        Time (ISO or epoch seconds); the latest version when None.
    fmt
        ``geojson``, ``gpkg``, ``kml`` or ``csv``. CSV carries geometry as WKT.
    overwrite
        Replace an existing file. Without it an existing file is an error; anything that is not a regular file
        (a device such as ``/dev/null``, a folder) is never replaced. The file is written beside its target and
        moved over it at the end, so a failed export leaves the old file as it was.

    Returns
    -------
    dict
        What was written: file, format, version, feature counts.
    """
    path = Path(path)
    fmt = fmt or SUFFIXES.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise ValueError(f"Cannot tell the export format of {path.name}: use --format {'|'.join(FORMATS)}.")
    if path.exists() or path.is_symlink():
        if not path.is_file() or path.is_symlink():
            raise InputError("exists and is not a regular file: Frontline will not replace it", where=str(path))
        if not overwrite:
            raise InputError("exists: pass --overwrite to replace it", where=str(path))
    cmap, rows, points = control_layers(store, at, source)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    tmp.unlink(missing_ok=True)
    try:
        written = _write_layers(tmp, fmt, cmap, rows, points)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "file": str(path),
        "format": fmt,
        "version_id": cmap.version_id,
        "time": iso(cmap.valid_time),
        "features": written,
        "sides": list(cmap.sides),
        "contested": CONTESTED,
    }


def _write_layers(path: Path, fmt: str, cmap, rows, points) -> int:
    """Write the control layer (and the points, as a second layer where the format has layers); features written."""
    written = 0
    layers = [("control", [(p, g) for p, g in rows])]
    pts = [
        (
            {
                "kind": f.kind,
                "key": f.key,
                "name": f.name,
                "name_en": f.name_en,
                "bearing": f.bearing,
                "version_id": cmap.version_id,
                "time": iso(cmap.valid_time),
            },
            f.geometry,
        )
        for f in points
    ]
    if pts and fmt in ("gpkg",):
        layers.append(("points", pts))
    elif pts and fmt in ("geojson", "kml", "csv"):
        # one-layer formats: points go in the same file after the polygons
        layers[0] = ("control", layers[0][1] + pts)
    for i, (name, items) in enumerate(layers):
        fields = sorted({k for p, _ in items for k in p})
        data = []
        for k in fields:
            vals = [p.get(k) for p, _ in items]
            if all(isinstance(v, (int, float)) or v is None for v in vals) and any(v is not None for v in vals):
                data.append(np.array([np.nan if v is None else float(v) for v in vals]))
            else:
                data.append(np.array(["" if v is None else str(v) for v in vals], dtype=object))
        geoms = shapely.to_wkb(np.array([g for _, g in items], dtype=object))
        kw = {}
        if fmt == "csv":
            kw["layer_options"] = {"GEOMETRY": "AS_WKT"}
        pyogrio.raw.write(
            str(path),
            geoms,
            data,
            fields,
            driver=FORMATS[fmt],
            crs="EPSG:4326",
            layer=name,
            geometry_type="Unknown",
            append=i > 0,
            **kw,
        )
        written += len(items)
    return written


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)
