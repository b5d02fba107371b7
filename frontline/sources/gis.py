"""Any GDAL layer (GeoJSON, KML/KMZ, GeoPackage, Shapefile) with a user mapping to statuses.

A mapping is JSON saying which attribute (or KML style) carries the status and
what each value means::

    {"field": "status",                    # attribute to read (KML: "styleUrl" or "fill" work too)
     "values": {"Russian-held": {"role": "held", "side": "ru"},
                "Ukrainian-held": {"role": "held", "side": "ua"},
                "Contested": {"role": "contested"},
                "Claimed": {"role": "label"}},
     "default": "unclassified",            # role of values not listed (reported)
     "layer": "control",                   # optional: layer name (GeoPackage/KML with several layers)
     "source": "isw"}                      # optional source name

Each file is one version; its time comes from ``--time`` (or the mapping's
``"time"``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyogrio.raw
import shapely

from .. import geodesy
from ..borders import polygonal
from ..model import ROLE_UNCLASSIFIED, ROLES, RawFeature, Snapshot, utc
from ..times import parse_time


def load_mapping(path) -> dict:
    """Read and check a mapping file; ValueError names what is wrong."""
    try:
        m = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the mapping ({exc}).") from None
    if not isinstance(m, dict) or "field" not in m or not isinstance(m.get("values"), dict):
        raise ValueError(f"{path}: a mapping needs 'field' and a 'values' object.")
    for value, spec in m["values"].items():
        if not isinstance(spec, dict) or spec.get("role") not in ROLES:
            raise ValueError(f"{path}: value {value!r} needs a 'role' among {', '.join(ROLES)}.")
        if spec["role"] == "held" and not spec.get("side"):
            raise ValueError(f"{path}: value {value!r} is 'held' but names no 'side'.")
    return m


def gdal_path(path: str) -> str:
    """What GDAL should open for a file: a KMZ's KML inside the zip (GDAL's KML driver keeps its attributes).

    Parameters
    ----------
    path
        A file GDAL reads (GeoJSON, GeoPackage, Shapefile, KML, KMZ, …).

    Returns
    -------
    str
        ``path`` itself, or for a KMZ the ``/vsizip/`` path of its ``doc.kml`` (else its first ``.kml``).

    Raises
    ------
    ValueError
        When a KMZ is not a readable zip or holds no ``.kml`` document.
    """
    if path.lower().endswith(".kmz"):
        import zipfile

        try:
            with zipfile.ZipFile(path) as z:
                kmls = [n for n in z.namelist() if n.lower().endswith(".kml")]
        except (OSError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a readable KMZ (zip) file ({exc})") from None
        if not kmls:
            raise ValueError("the KMZ holds no .kml document")
        main = "doc.kml" if "doc.kml" in kmls else kmls[0]
        return f"/vsizip/{path}/{main}"
    return path


def classify_record(record: tuple, field: str) -> tuple[RawFeature | None, str | None]:
    """One layer record as a classified feature and a note (the one classifier of GDAL and ArcGIS layers).

    Parameters
    ----------
    record
        ``(geometry in lon/lat or None, mapping spec {"role", "side"?}, properties as text)``.
    field
        The mapping's attribute, named in the feature's key and in the note of an unclassified value.

    Returns
    -------
    tuple
        ``(RawFeature, note)``, the note None or saying what was mended (a repaired polygon) or left
        unclassified; ``(None, reason)`` for a record that is no feature (no geometry, lines, nothing left
        after repair).
    """
    g, spec, props = record
    if g is None or g.is_empty:
        return None, "no geometry"
    if g.geom_type not in ("Polygon", "MultiPolygon", "Point"):
        return None, f"unsupported geometry type {g.geom_type}"
    repaired = False
    if g.geom_type != "Point" and not g.is_valid:
        g, repaired = polygonal(shapely.make_valid(g)), True
        if g.is_empty:
            return None, "invalid polygon with no area left after repair"
    role = spec["role"]
    note = (
        f"unclassified value {props.get(field)!r}"
        if role == ROLE_UNCLASSIFIED
        else ("repaired invalid polygon" if repaired else None)
    )
    kind = "marker" if g.geom_type == "Point" else "area"
    return RawFeature(
        geometry=g,
        kind=kind,
        key=f"{field}={props.get(field)}",
        role=role,
        side=spec.get("side"),
        name=props.get("name") or props.get("Name") or "",
        props=props,
        repaired=repaired,
    ), note


def read(path, mapping_path, *, at=None, source: str | None = None):
    """Yield one importable snapshot for a GIS file (or ``(origin, reason)``)."""

    path = str(path)
    try:
        mapping = load_mapping(mapping_path)
        to_open = gdal_path(path)
        t = parse_time(at or mapping.get("time"))
        if t is None:
            raise ValueError('give the situation time with --time (ISO) or "time" in the mapping')
        layer = mapping.get("layer")
        if layer is not None and layer not in [n for n, _ in pyogrio.list_layers(to_open)]:
            raise ValueError(f"no layer {layer!r} (have: {', '.join(n for n, _ in pyogrio.list_layers(to_open))})")
        meta, _, wkb, field_data = pyogrio.raw.read(to_open, layer=layer)
    except ValueError as exc:
        yield path, str(exc)
        return
    except Exception as exc:  # GDAL raises its own error types for unreadable files
        yield path, f"cannot read as a GIS layer ({exc})"
        return
    fields = list(meta["fields"])
    field = mapping["field"]
    if field not in fields:
        yield path, f"no attribute {field!r} (have: {', '.join(fields)})"
        return
    col = field_data[fields.index(field)]
    geoms = shapely.from_wkb(wkb)
    geoms = geodesy.to_lonlat_from(geoms, meta.get("crs"))
    geoms = shapely.force_2d(geoms)
    default = mapping.get("default", ROLE_UNCLASSIFIED)
    records = []
    for i, (g, val) in enumerate(zip(geoms, col)):
        props = {f: (None if field_data[j][i] is None else str(field_data[j][i])) for j, f in enumerate(fields)}
        spec = mapping["values"].get(str(val), {"role": default})
        records.append((g, spec, props))
    hashes = [
        hashlib.blake2b(
            (shapely.to_wkb(g) if g is not None else b"")
            + json.dumps(p, sort_keys=True).encode()
            + json.dumps(s, sort_keys=True).encode(),
            digest_size=16,
        ).digest()
        for g, s, p in records
    ]

    def parse(i):
        return classify_record(records[i], field)

    content = hashlib.blake2b(b"".join(sorted(hashes)), digest_size=16).hexdigest()
    yield Snapshot(
        source=source or mapping.get("source") or Path(path).stem,
        version_id=str(t),
        valid_time=utc(t),
        published_at=utc(t),
        revised_at=None,
        origin=path,
        content_hash=content,
        hashes=hashes,
        parse=parse,
    )
