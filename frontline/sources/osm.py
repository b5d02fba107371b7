"""Road networks from OpenStreetMap extracts and GIS line files.

:func:`read_roads` turns an OSM file (PBF, XML ``.osm``, optionally
compressed) or a line layer that GDAL reads (GeoJSON, GeoPackage, Shapefile,
FlatGeobuf, ...) into :class:`Roads`: parallel numpy arrays of lon/lat
LineStrings and their ids, names, refs and road classes.

Broken features never stop an import. A way whose nodes are missing from an
extract, a null geometry, a point where a line was expected — each is written
to :attr:`Roads.problems` with the file and the feature id, and skipped. Only a
file that is not a road file at all (unreadable, or without a single usable
line) raises :class:`ValueError`.

OSM ways are read with pyosmium's node-location cache (``with_locations``), so
the whole file is streamed once; for country-sized extracts pass a ``bbox`` to
keep memory for the *result* small (the location cache itself still sees every
node — cut large files with ``osmium extract`` first).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, box

from ..geodesy import geodesic_lengths_m
from ..road_network import Roads

__all__ = [
    "DEFAULT_CLASSES",
    "CLASS_RANK",
    "Roads",
    "read_roads",
    "merge_roads",
    "class_rank",
    "geodesic_lengths_m",
]

#: OSM ``highway`` values read by default: everything a vehicle convoy can use,
#: from motorways down to field tracks (tracks matter: in 2024–25 much
#: front-line logistics moved to dirt tracks once main roads came under fire).
#: ``service``, ``living_street`` and paths are left out as noise.
DEFAULT_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "track",
)

#: Importance of a class, lower is more important; used to pick the class of a
#: merged route and by the web map to order drawing.
CLASS_RANK: dict[str, int] = {
    "motorway": 0,
    "trunk": 1,
    "primary": 2,
    "secondary": 3,
    "tertiary": 4,
    "unclassified": 5,
    "residential": 6,
    "track": 7,
}

# Suffixes pyosmium reads; everything else goes to GDAL through pyogrio.
_OSM_SUFFIXES = (".pbf", ".osm", ".o5m", ".opl", ".osm.gz", ".osm.bz2")

# Field names tried, in order, when a line file's fields are not named.
_ID_FIELDS = ("osm_id", "@id", "id", "way_id")
_NAME_FIELDS = ("name",)
_NAME_EN_FIELDS = ("name:en", "name_en", "int_name")
_REF_FIELDS = ("ref",)
_CLASS_FIELDS = ("highway", "fclass", "class", "type")  # "fclass": Geofabrik shapefiles


def class_rank(cls: str) -> int:
    """Rank of a road class (``primary_link`` ranks as ``primary``); unknown classes rank last."""
    return CLASS_RANK.get(_base_class(cls), len(CLASS_RANK))


def _file_class(cls: str) -> str:
    # Geofabrik shapefiles split tracks by grade ("track_grade3"); OSM says "track".
    return "track" if cls.startswith("track_grade") else cls


def _base_class(cls: str) -> str:
    # Geofabrik writes "track_grade3"; links rank with their road.
    cls = cls or ""
    if cls.startswith("track_grade"):
        return "track"
    return cls[:-5] if cls.endswith("_link") else cls


# --------------------------------------------------------------------------- reading


def read_roads(
    path: str | os.PathLike,
    *,
    classes: Iterable[str] | None = DEFAULT_CLASSES,
    bbox: Sequence[float] | None = None,
    merge_by: str | None = None,
    layer: str | int | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    name_en_field: str | None = None,
    ref_field: str | None = None,
    class_field: str | None = None,
) -> Roads:
    """Read a road network from an OSM file or a GIS line file.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm`` (XML; ``.gz``/``.bz2`` too) read with pyosmium,
        or any line layer GDAL reads (GeoJSON, GPKG, Shapefile, ...) via pyogrio.
    classes
        ``highway`` values to keep (default :data:`DEFAULT_CLASSES`); ``None``
        keeps every road class. In line files the class field is matched the
        same way (Geofabrik's ``track_grade1..5`` count as ``track``); a file
        without a class field keeps everything and says so in ``problems``.
    bbox
        ``(min lon, min lat, max lon, max lat)``: keep only roads that touch it.
    merge_by
        ``"ref"`` or ``"name"``: join ways sharing that value into routes
        (see :func:`merge_roads`); ``None`` keeps one road per way/feature.
    layer
        Layer of a multi-layer line file; default: the first line layer.
    id_field, name_field, name_en_field, ref_field, class_field
        Field names in a line file. By default the usual OSM-derived names are
        tried (``osm_id``/``id``, ``name``, ``name:en``/``name_en``, ``ref``,
        ``highway``/``fclass``); the FID is the id when no id field exists.
        Ignored for OSM files, which always use the OSM tags.

    Returns
    -------
    Roads
        Lon/lat lines with attributes; skipped features listed in ``problems``.

    Raises
    ------
    ValueError
        The file cannot be read, is not a road/line file, has no usable road,
        or a named field is missing.
    """
    path_s = os.fspath(path)
    if not os.path.exists(path_s):
        raise ValueError(f"{path_s}: no such file.")
    if merge_by not in (None, "ref", "name"):
        raise ValueError(f"merge_by must be 'ref', 'name' or None, not {merge_by!r}.")
    if bbox is not None:
        bbox = tuple(float(v) for v in bbox)
        if len(bbox) != 4 or not (bbox[0] <= bbox[2] and bbox[1] <= bbox[3]):
            raise ValueError(f"bbox must be (min lon, min lat, max lon, max lat), got {bbox}.")
    class_set = None if classes is None else frozenset(classes)
    if class_set is not None and not class_set:
        raise ValueError("classes is empty: give highway classes to read, or None for all of them.")

    if path_s.lower().endswith(_OSM_SUFFIXES):
        roads = _read_osm(path_s, class_set, bbox)
    else:
        roads = _read_lines(
            path_s,
            class_set,
            bbox,
            layer,
            id_field=id_field,
            name_field=name_field,
            name_en_field=name_en_field,
            ref_field=ref_field,
            class_field=class_field,
        )
    if merge_by is not None:
        roads = merge_roads(roads, merge_by)
    return roads


def _read_osm(path: str, classes: frozenset[str] | None, bbox) -> Roads:
    import osmium
    import osmium.geom

    wkb = osmium.geom.WKBFactory()
    geoms: list = []
    ids: list[str] = []
    names: list[str] = []
    names_en: list[str] = []
    refs: list[str] = []
    cls: list[str] = []
    problems: list[str] = []
    tag_filter: osmium.filter.KeyFilter | osmium.filter.TagFilter
    if classes is None:
        tag_filter = osmium.filter.KeyFilter("highway")
    else:
        tag_filter = osmium.filter.TagFilter(*[("highway", c) for c in sorted(classes)])
    # The location handler runs before the filters, so every node's position is
    # cached even though only highway ways reach this loop.
    proc = (
        osmium.FileProcessor(path)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(tag_filter)
    )
    n_ways = 0
    try:
        for way in proc:
            if not isinstance(way, osmium.osm.Way):  # the entity filter passes ways only; this tells the type checker
                continue
            n_ways += 1
            tags = way.tags
            if tags.get("area") == "yes":  # pedestrian squares etc. drawn as closed highways
                continue
            wid = f"w{way.id}"
            try:
                geom = wkb.create_linestring(way)  # drops repeated points itself
            except Exception:  # missing node locations or < 2 distinct points
                # Diagnose in Python only for the rare broken way.
                nodes = list(way.nodes)
                good = [(n.lon, n.lat) for n in nodes if n.location.valid()]
                distinct = len({(round(x, 7), round(y, 7)) for x, y in good})
                if distinct < 2:
                    problems.append(
                        f"{path}: way {way.id}: only {distinct} of {len(nodes)} nodes have a distinct "
                        "location in this file (nodes outside the extract?); skipped."
                    )
                    continue
                geom = shapely.to_wkb(LineString(good), hex=True)
                problems.append(
                    f"{path}: way {way.id}: {len(nodes) - len(good)} of {len(nodes)} nodes missing from "
                    "the file; line built from the rest."
                )
            geoms.append(geom)
            ids.append(wid)
            names.append(tags.get("name") or "")
            names_en.append(tags.get("name:en") or "")
            refs.append(tags.get("ref") or "")
            cls.append(tags.get("highway") or "")
    except RuntimeError as exc:  # pyosmium reports bad input as RuntimeError
        raise ValueError(f"{path}: cannot be read as an OSM file ({exc}).") from None

    if not geoms:
        what = "any highway" if classes is None else "a highway of the classes " + ", ".join(sorted(classes))
        extra = f" ({n_ways} highway ways had no usable geometry)" if n_ways else ""
        raise ValueError(f"{path}: no road in this OSM file: no way tagged with {what}{extra}.")
    geometry = shapely.from_wkb(np.array(geoms, dtype=object))
    roads = _roads(geometry, ids, names, names_en, refs, cls, path, problems)
    return _clip_bbox(roads, bbox, path)


def _roads(
    geometry: np.ndarray,
    ids: list[str],
    names: list[str],
    names_en: list[str],
    refs: list[str],
    classes: list[str],
    source: str,
    problems: list[str],
) -> Roads:
    """:class:`Roads` from lists of text, as the object arrays it holds."""
    ids_a, names_a, names_en_a, refs_a, classes_a = (
        np.array(c, dtype=object) for c in (ids, names, names_en, refs, classes)
    )
    return Roads(geometry, ids_a, names_a, names_en_a, refs_a, classes_a, source=source, problems=problems)


def _clip_bbox(roads: Roads, bbox, path: str) -> Roads:
    if bbox is None:
        return roads
    keep = shapely.intersects(roads.geometry, box(*bbox))
    if not keep.any():
        raise ValueError(f"{path}: none of its {len(roads)} roads touches the bbox {bbox}.")
    return roads[keep]


def _pick_field(fields: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, path: str):
    if wanted is not None:
        if wanted not in fields:
            raise ValueError(
                f"{path}: has no field {wanted!r} for the road {role}; its fields are: {', '.join(fields) or 'none'}."
            )
        return wanted
    lower = {f.lower(): f for f in fields}
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


_LINE_TYPES = ("LineString", "MultiLineString", "Unknown", "GeometryCollection")


def _line_layer(path: str, layer: str | None) -> tuple[str, dict]:
    """The layer to read (the first line layer when none is named) and its GDAL info; ValueError when none fits."""
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # DataSourceError is a RuntimeError; be broad, GDAL varies
        raise ValueError(f"{path}: cannot be read as a GIS file ({exc}).") from None
    if len(layers) == 0:
        raise ValueError(f"{path}: holds no layer.")
    if layer is None:
        usable = [name for name, gtype in layers if gtype and gtype.replace(" Z", "").replace(" M", "") in _LINE_TYPES]
        if not usable:
            found = ", ".join(f"{n} ({t})" for n, t in layers)
            raise ValueError(f"{path}: not a road file: no line layer (layers: {found}).")
        layer = usable[0]
    try:
        info = pyogrio.read_info(path, layer=layer)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read layer {layer!r} ({exc}).") from None
    gtype = (info.get("geometry_type") or "").replace(" Z", "").replace(" M", "")
    if not gtype:
        raise ValueError(f"{path}: layer {layer!r} has no geometry; not a road file.")
    if gtype not in _LINE_TYPES:
        raise ValueError(f"{path}: layer {layer!r} holds {gtype} features, not road lines.")
    return layer, info


def _read_lines(
    path: str, classes, bbox, layer, *, id_field, name_field, name_en_field, ref_field, class_field
) -> Roads:
    import pyogrio

    layer, info = _line_layer(path, layer)
    fields = [str(f) for f in info["fields"]]
    f_id = _pick_field(fields, id_field, _ID_FIELDS, "id", path)
    f_name = _pick_field(fields, name_field, _NAME_FIELDS, "name", path)
    f_name_en = _pick_field(fields, name_en_field, _NAME_EN_FIELDS, "English name", path)
    f_ref = _pick_field(fields, ref_field, _REF_FIELDS, "ref", path)
    f_class = _pick_field(fields, class_field, _CLASS_FIELDS, "class", path)
    columns = [f for f in dict.fromkeys([f_id, f_name, f_name_en, f_ref, f_class]) if f]

    to_ll, read_bbox = _to_lonlat(info, bbox)

    try:
        meta, fids, wkb, values = pyogrio.raw.read(path, layer=layer, columns=columns, bbox=read_bbox, return_fids=True)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read layer {layer!r} ({exc}).") from None
    cols = dict(zip([str(f) for f in meta["fields"]], values))  # GDAL returns file order, not ours

    def col(name):
        if name is None:
            return np.full(len(wkb), "", dtype=object)
        return np.array(["" if v is None else str(v) for v in cols[name]], dtype=object)

    ids = col(f_id) if f_id else np.array([str(f) for f in fids], dtype=object)
    if f_id:  # fall back to the FID where the id field is empty
        ids = np.array([i or str(f) for i, f in zip(ids, fids)], dtype=object)
    names, names_en, refs, cls = col(f_name), col(f_name_en), col(f_ref), col(f_class)

    problems: list[str] = []
    if f_class is None and classes is not None:
        problems.append(f"{path}: no road class field (tried {', '.join(_CLASS_FIELDS)}); every line kept.")

    n_in = len(wkb)
    wanted = np.ones(n_in, dtype=bool)
    if classes is not None and f_class is not None:
        # A class we were asked to leave out is not a problem, just not read.
        wanted = np.array([_file_class(c) in classes for c in cls], dtype=bool)
    geoms = shapely.force_2d(shapely.from_wkb(wkb, on_invalid="ignore"))  # unreadable -> None
    if to_ll is not None:
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(to_ll.transform(xy[:, 0], xy[:, 1])))
    # Fast path, vectorised: plain LineStrings with finite, non-zero length.
    lengths = shapely.length(geoms)
    keep = wanted & (shapely.get_type_id(geoms) == 1) & np.isfinite(lengths) & (lengths > 0)
    out_geoms = geoms.copy()
    # Everything else one by one: report it, or explode a multiline into its
    # parts (each part keeps the feature's attributes).
    extra_rows: list[tuple[int, LineString]] = []
    for i in np.flatnonzero(wanted & ~keep):
        good = _line_parts(wkb[i], geoms[i], f"{path}: feature {ids[i]}", problems)
        if good:
            out_geoms[i] = good[0]
            keep[i] = True
            extra_rows.extend((int(i), part) for part in good[1:])

    if not keep.any():
        detail = f" ({len(problems)} features skipped, e.g. {problems[-1]})" if problems else ""
        if n_in == 0:
            detail = " (the layer is empty" + (" inside the bbox)" if bbox else ")")
        raise ValueError(f"{path}: no usable road line{detail}.")
    rows = np.concatenate([np.flatnonzero(keep), np.array([r for r, _ in extra_rows], dtype=int)])
    geom_out = np.concatenate([out_geoms[keep], np.array([p for _, p in extra_rows] + [None], dtype=object)[:-1]])
    if to_ll is None:
        _check_degrees(geom_out, path)
    roads = Roads(
        geom_out, ids[rows], names[rows], names_en[rows], refs[rows], cls[rows], source=path, problems=problems
    )
    return _clip_bbox(roads, bbox, path)


def _to_lonlat(info: dict, bbox):
    """``(transformer to lon/lat or None, bbox in the file's CRS)``: a projected file is read in lon/lat."""
    from pyproj import CRS, Transformer

    src_crs = CRS.from_user_input(info["crs"]) if info.get("crs") else None
    to_ll = None
    if src_crs is not None and not src_crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        to_ll = Transformer.from_crs(src_crs, "EPSG:4326", always_xy=True)
    read_bbox = None
    if bbox is not None:
        read_bbox = bbox
        if to_ll is not None:
            read_bbox = Transformer.from_crs("EPSG:4326", src_crs, always_xy=True).transform_bounds(*bbox)
    return to_ll, read_bbox


def _check_degrees(geoms: np.ndarray, path: str) -> None:
    """Refuse coordinates that cannot be lon/lat in a file that declares no CRS."""
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ValueError(
            f"{path}: coordinates reach ({minx:.6g}, {miny:.6g})–({maxx:.6g}, {maxy:.6g}), which are not "
            "lon/lat degrees, and the file declares no CRS; reproject it to EPSG:4326."
        )


def _line_parts(wkb: Any, g: Any, where: str, problems: list[str]) -> list[LineString]:
    """The usable lines of a feature off the fast path (a multiline's parts); empty, with the problem, when none."""
    if wkb is None:
        problems.append(f"{where}: no geometry; skipped.")
        return []
    if g is None:
        problems.append(f"{where}: unreadable geometry (a line needs 2 or more points); skipped.")
        return []
    if g.geom_type not in ("LineString", "MultiLineString", "LinearRing"):
        problems.append(f"{where}: a {g.geom_type}, not a line; skipped.")
        return []
    parts = list(shapely.get_parts(shapely.line_merge(g) if g.geom_type == "MultiLineString" else g))
    good = []
    for part in parts:
        xy = shapely.get_coordinates(part)
        if not np.isfinite(xy).all() or len(np.unique(xy, axis=0)) < 2:
            continue
        good.append(LineString(xy) if part.geom_type == "LinearRing" else part)
    if not good:
        problems.append(f"{where}: a line with fewer than 2 distinct points; skipped.")
    elif len(good) < len(parts):
        problems.append(f"{where}: {len(parts) - len(good)} degenerate part(s) dropped.")
    return good


# --------------------------------------------------------------------------- merging


def merge_roads(roads: Roads, by: str = "ref") -> Roads:
    """Join ways that share a ``ref`` (or ``name``) into routes.

    Ways with the same non-empty value are merged end to end with
    :func:`shapely.line_merge`; each connected chain becomes one road with id
    ``"ref=M03"`` (``"ref=M03#2"``, ... when the value has several disconnected
    chains). A route takes the most important class among its ways and the
    most common name/ref. Ways without the value are kept as they are.

    Parameters
    ----------
    roads
        Roads to merge.
    by
        ``"ref"`` or ``"name"``.
    """
    if by not in ("ref", "name"):
        raise ValueError(f"merge_roads: 'by' must be 'ref' or 'name', not {by!r}.")
    keys = roads.refs if by == "ref" else roads.names
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k:
            groups.setdefault(k, []).append(i)
    alone = np.array([not k for k in keys])

    geoms = list(roads.geometry[alone])
    ids = list(roads.ids[alone])
    names = list(roads.names[alone])
    names_en = list(roads.names_en[alone])
    refs = list(roads.refs[alone])
    cls = list(roads.classes[alone])

    def most_common(values) -> str:
        values = [v for v in values if v]
        return Counter(values).most_common(1)[0][0] if values else ""

    for key, members in groups.items():
        idx = np.array(members)
        merged = shapely.line_merge(shapely.multilinestrings(roads.geometry[idx]))
        chains = shapely.get_parts(merged)
        best_class = min(roads.classes[idx], key=class_rank)
        name, name_en, ref = (most_common(a[idx]) for a in (roads.names, roads.names_en, roads.refs))
        for k, chain in enumerate(chains):
            geoms.append(chain)
            ids.append(f"{by}={key}" + (f"#{k + 1}" if len(chains) > 1 else ""))
            names.append(name)
            names_en.append(name_en)
            refs.append(ref)
            cls.append(best_class)
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    return _roads(arr, ids, names, names_en, refs, cls, roads.source, list(roads.problems))
