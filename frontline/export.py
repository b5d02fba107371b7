"""Write the state at a time to GeoJSON, GeoPackage, FlatGeobuf, GeoParquet, KML or CSV."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from . import geodesy
from .errors import InputError
from .model import CONTESTED, iso
from .state import state_at
from .store import GeoPackageStore

FORMATS = {
    "geojson": "GeoJSON",
    "gpkg": "GPKG",
    "fgb": "FlatGeobuf",
    "parquet": "Parquet",
    "kml": "KML",
    "csv": "CSV",
}
SUFFIXES = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".fgb": "fgb",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".kml": "kml",
    ".csv": "csv",
}
# KML colours are aabbggrr; fills at 50% (7f) so the map below shows through, outlines opaque
KML_COLOURS = {"ua": "c06515", "ru": "2828c6", CONTESTED: "808080"}
KML_NAMES = {"ua": "Held by Ukraine (ua)", "ru": "Held by Russia (ru)", CONTESTED: "Contested (grey zone)"}
KML_NS = "http://www.opengis.net/kml/2.2"
BOX_STEP_DEG = 0.01


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


def parse_bbox(value) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` in degrees from ``"W,S,E,N"`` or four numbers (None stays None).

    Raises
    ------
    InputError
        When it is not four numbers with west < east and south < north inside lon/lat.
    """
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        w, s, e, n = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise InputError(f"{value!r} is not W,S,E,N in degrees (e.g. 34.5,50.8,36.2,51.8)", field="--bbox") from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InputError(
            f"{value!r} needs west < east in -180..180 and south < north in -90..90 (degrees)", field="--bbox"
        )
    return w, s, e, n


def parse_crs(value) -> CRS | None:
    """The output CRS (``EPSG:3857``, a PROJ string, WKT; None: keep lon/lat EPSG:4326).

    Raises
    ------
    InputError
        When pyproj does not know it.
    """
    if value is None:
        return None
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise InputError(f"{value!r} is not a CRS pyproj knows ({exc})", field="--crs") from None


def export_state(
    store: GeoPackageStore,
    path: Path | str,
    at=None,
    fmt: str | None = None,
    source: str | None = None,
    *,
    bbox=None,
    crs=None,
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
        ``geojson``, ``gpkg``, ``fgb`` (FlatGeobuf), ``parquet`` (GeoParquet), ``kml`` or ``csv``. CSV carries
        geometry as WKT and records no CRS; KML has a style per side and the version's time span.
    bbox
        ``"W,S,E,N"`` (degrees) or four numbers: clip everything to this box; ``area_km2`` is then the geodesic
        area of what is inside it.
    crs
        Reproject to this CRS (anything pyproj reads); areas stay geodesic km². KML is always lon/lat.
    overwrite
        Replace an existing file. Without it an existing file is an error; anything that is not a regular file
        (a device such as ``/dev/null``, a folder) is never replaced. The file is written beside its target and
        moved over it at the end, so a failed export leaves the old file as it was.

    Returns
    -------
    dict
        What was written: file, format, version, feature counts, box and CRS.
    """
    path = Path(path)
    fmt = fmt or SUFFIXES.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise InputError(f"cannot tell the export format of {path.name}: use --format {'|'.join(FORMATS)}")
    box, out_crs = parse_bbox(bbox), parse_crs(crs)
    if fmt == "kml" and out_crs is not None and out_crs != CRS.from_epsg(4326):
        raise InputError("KML is always lon/lat (EPSG:4326): leave out --crs", field="--crs")
    _check_target(path, overwrite)
    cmap, rows, points = control_layers(store, at, source)
    layers = _clipped(_layers(fmt, cmap, rows, points), box)
    if not any(items for _, items in layers):
        raise InputError(f"nothing of the state at {iso(cmap.valid_time)} lies inside it", field="--bbox")
    from .store.source_info import attribution_line

    credit = attribution_line(store, cmap.source)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    tmp.unlink(missing_ok=True)
    try:
        _write(tmp, fmt, layers, out_crs, _time_span(store, cmap), credit)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "file": str(path),
        "format": fmt,
        "version_id": cmap.version_id,
        "time": iso(cmap.valid_time),
        "features": sum(len(items) for _, items in layers),
        "sides": list(cmap.sides),
        "contested": CONTESTED,
        "bbox": list(box) if box else None,
        "crs": out_crs.to_string() if out_crs is not None else "EPSG:4326",
        "attribution": credit,
    }


def _check_target(path: Path, overwrite: bool) -> None:
    """Refuse a target that is not a regular file, or an existing file without ``overwrite``."""
    if path.exists() or path.is_symlink():
        if not path.is_file() or path.is_symlink():
            raise InputError("exists and is not a regular file: Frontline will not replace it", where=str(path))
        if not overwrite:
            raise InputError("exists: pass --overwrite to replace it", where=str(path))


def _layers(fmt: str, cmap, rows, points) -> list[tuple[str, list]]:
    """``(layer name, [(properties, geometry)])``: control, and points as a second layer where the format has layers."""
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
    layers = [("control", list(rows))]
    if pts and fmt == "gpkg":
        layers.append(("points", pts))
    elif pts:
        # one-layer formats: points go in the same file after the polygons
        layers[0] = ("control", layers[0][1] + pts)
    return layers


def _clipped(layers: list[tuple[str, list]], box) -> list[tuple[str, list]]:
    """Layers cut to the box (lon/lat): empty results dropped, areas of what is left measured again."""
    if box is None:
        return layers
    out = []
    for name, items in layers:
        kept = []
        for props, g in items:
            # box edges follow parallels and meridians: vertices every 0.01° keep them so in geodesic measure
            # and after reprojection (a long straight edge would be read as a great circle)
            cut = shapely.segmentize(shapely.clip_by_rect(g, *box), BOX_STEP_DEG)
            if g.geom_type in ("Polygon", "MultiPolygon"):
                # clipping a polygon can leave slivers of lower dimension on the box edge
                cut = shapely.union_all([p for p in shapely.get_parts(cut) if p.geom_type == "Polygon"])
            if cut.is_empty:
                continue
            if "area_km2" in props:
                props = props | {"area_km2": round(geodesy.area_km2(cut), 3)}
            kept.append((props, cut))
        out.append((name, kept))
    return out


def _time_span(store: GeoPackageStore, cmap) -> tuple[str, str | None]:
    """The version's validity: its own time and the next version's (None when it is the latest)."""
    times = {v.version_id: v.valid_time for v in store.versions(cmap.source)}
    own = times.get(cmap.version_id)
    later = [t for t in times.values() if own is not None and t > own]
    return str(iso(cmap.valid_time)), (iso(min(later)) if later else None)


def _columns(items: list) -> tuple[list[str], list[np.ndarray]]:
    """Field names and one array per field: numbers as float (NaN for none), anything else as text."""
    fields = sorted({k for p, _ in items for k in p})
    data = []
    for k in fields:
        vals = [p.get(k) for p, _ in items]
        if all(isinstance(v, (int, float)) or v is None for v in vals) and any(v is not None for v in vals):
            data.append(np.array([np.nan if v is None else float(v) for v in vals]))
        else:
            data.append(np.array(["" if v is None else str(v) for v in vals], dtype=object))
    return fields, data


def _projected(geoms: np.ndarray, crs: CRS | None) -> np.ndarray:
    """Geometries moved from lon/lat to ``crs`` (unchanged when None)."""
    if crs is None:
        return geoms
    to = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1])))


# Formats whose layers carry a description (GeoJSON's top-level "description", gpkg_contents, FlatGeobuf's header)
_DESCRIBED = {"geojson", "gpkg", "fgb"}


def _write(path: Path, fmt: str, layers: list[tuple[str, list]], crs: CRS | None, span, credit: str = "") -> None:
    """Write the layers in the format chosen; ``credit`` (the sources' attribution) goes where the format keeps text."""
    if fmt == "kml":
        _write_kml(path, layers, span, credit)
        return
    if fmt == "parquet" and "w" not in pyogrio.list_drivers().get("Parquet", ""):
        _write_geoparquet(path, layers, crs)
        return
    for i, (name, items) in enumerate(layers):
        fields, data = _columns(items)
        geoms = shapely.to_wkb(_projected(np.array([g for _, g in items], dtype=object), crs))
        pyogrio.raw.write(
            str(path),
            geoms,
            data,
            fields,
            driver=FORMATS[fmt],
            crs=(crs or CRS.from_epsg(4326)).to_wkt(),
            layer=name,
            geometry_type="Unknown",
            append=i > 0,
            **({"layer_options": {"GEOMETRY": "AS_WKT"}} if fmt == "csv" else {}),
            **({"layer_options": {"DESCRIPTION": credit}} if credit and fmt in _DESCRIBED else {}),
        )


def _write_geoparquet(path: Path, layers: list[tuple[str, list]], crs: CRS | None) -> None:
    """GeoParquet 1.0 (WKB geometry column, ``geo`` metadata) through pyarrow, for GDAL builds without Parquet."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(
            "GeoParquet needs GDAL's Parquet driver or pyarrow: pip install 'frontline[notebook]'", field="--format"
        ) from None
    (_, items), *_ = layers  # one-layer format: the points are in the control layer
    fields, data = _columns(items)
    geoms = _projected(np.array([g for _, g in items], dtype=object), crs)
    table = pa.table({k: pa.array(v.tolist()) for k, v in zip(fields, data)} | {"geometry": shapely.to_wkb(geoms)})
    bounds = shapely.total_bounds(geoms)
    geo = {
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {
            "geometry": {
                "encoding": "WKB",
                "geometry_types": sorted({g.geom_type for g in geoms}),
                "crs": (crs or CRS.from_epsg(4326)).to_json_dict(),
                "bbox": [float(b) for b in bounds],
            }
        },
    }
    table = table.replace_schema_metadata({b"geo": json.dumps(geo).encode()})
    pq.write_table(table, str(path))


def _write_kml(path: Path, layers: list[tuple[str, list]], span: tuple[str, str | None], credit: str = "") -> None:
    """KML for Google Earth and ATAK: a style per side, a name per placemark, the version's time span."""
    ET.register_namespace("", KML_NS)
    k = f"{{{KML_NS}}}"
    root = ET.Element(f"{k}kml")
    doc = ET.SubElement(root, f"{k}Document")
    ET.SubElement(doc, f"{k}name").text = f"Frontline state at {span[0]}"
    if credit:
        ET.SubElement(doc, f"{k}description").text = credit
    for what, colour in KML_COLOURS.items():
        style = ET.SubElement(doc, f"{k}Style", id=f"control-{what}")
        line = ET.SubElement(style, f"{k}LineStyle")
        ET.SubElement(line, f"{k}color").text = f"ff{colour}"
        ET.SubElement(line, f"{k}width").text = "2"
        ET.SubElement(ET.SubElement(style, f"{k}PolyStyle"), f"{k}color").text = f"7f{colour}"
    for _, items in layers:
        for props, g in items:
            _placemark(doc, k, props, g, span)
    ET.ElementTree(root).write(str(path), encoding="utf-8", xml_declaration=True)


def _placemark(doc: ET.Element, k: str, props: dict, g, span: tuple[str, str | None]) -> None:
    """One placemark: name, time, style of its side, properties as ExtendedData, geometry."""
    pm = ET.SubElement(doc, f"{k}Placemark")
    what = CONTESTED if props.get("status") == "contested" else str(props.get("side"))
    if "status" in props:
        ET.SubElement(pm, f"{k}name").text = KML_NAMES.get(what, f"Held by {what}")
    else:
        ET.SubElement(pm, f"{k}name").text = props.get("name_en") or props.get("name") or props.get("kind")
    if span[1] is None:  # the latest version: valid from its time on
        ET.SubElement(ET.SubElement(pm, f"{k}TimeStamp"), f"{k}when").text = span[0]
    else:
        ts = ET.SubElement(pm, f"{k}TimeSpan")
        ET.SubElement(ts, f"{k}begin").text, ET.SubElement(ts, f"{k}end").text = span
    if "status" in props:
        ET.SubElement(pm, f"{k}styleUrl").text = f"#control-{what}"
    ext = ET.SubElement(pm, f"{k}ExtendedData")
    for key, value in props.items():
        ET.SubElement(ET.SubElement(ext, f"{k}Data", name=key), f"{k}value").text = "" if value is None else str(value)
    _kml_geometry(pm, k, g)


def _kml_geometry(parent: ET.Element, k: str, g) -> None:
    """Point, LineString or Polygon elements of a shapely geometry (parts of a multi-geometry in MultiGeometry)."""
    parts = shapely.get_parts(g)
    if len(parts) > 1:
        parent = ET.SubElement(parent, f"{k}MultiGeometry")
    for p in parts:
        if p.geom_type == "Point":
            ET.SubElement(ET.SubElement(parent, f"{k}Point"), f"{k}coordinates").text = _coords(p.coords)
        elif p.geom_type == "LineString":
            ET.SubElement(ET.SubElement(parent, f"{k}LineString"), f"{k}coordinates").text = _coords(p.coords)
        elif p.geom_type == "Polygon":
            poly = ET.SubElement(parent, f"{k}Polygon")
            for tag, ring in [("outerBoundaryIs", p.exterior), *[("innerBoundaryIs", r) for r in p.interiors]]:
                lr = ET.SubElement(ET.SubElement(poly, f"{k}{tag}"), f"{k}LinearRing")
                ET.SubElement(lr, f"{k}coordinates").text = _coords(ring.coords)


def _coords(coords) -> str:
    """``lon,lat lon,lat …`` at 7 decimals (about a centimetre)."""
    return " ".join(f"{x:.7f},{y:.7f}" for x, y, *_ in coords)


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)
