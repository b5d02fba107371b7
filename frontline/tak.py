"""The control map and its necks in the formats TAK clients read: data packages (KML), CoT events, CoT sends.

ATAK, WinTAK and iTAK import a *data package* (a zip with
``MANIFEST/manifest.xml``, MissionPackageManifest version 2, and the files
it lists: here one styled KML) and take *Cursor on Target* (CoT) events
from a file or a TAK server. Polygons go out as drawing shapes
(``type="u-d-f"``, one ``<link point="lat,lon"/>`` per vertex, closed:
first = last), necks as open ``u-d-f`` lines, alerts as map markers
(``b-m-p-s-m``). Colours are ARGB packed in a *signed* 32-bit int, as ATAK
writes them. Shapes are simplified to a vertex budget, because ATAK slows
to a crawl on shapes with 10⁵ vertices; the tolerance used is in each
shape's remarks. See ``docs/tak.md``.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry import LineString, Polygon, box
from shapely.geometry.base import BaseGeometry

from . import geodesy
from .borders import polygonal
from .errors import FetchError, InputError
from .model import CONTESTED, iso
from .state import resolve_version, version_control
from .store import GeoPackageStore

log = logging.getLogger("frontline.tak")

DEFAULT_MAX_VERTICES = 2000
"""Vertex budget per shape: ATAK draws a few thousand vertices per shape without lag."""
DEFAULT_STALE_S = 24 * 3600
"""How long a CoT event stays on the map after it is sent (ATAK drops it at ``stale``)."""
M_PER_DEG = 111_320.0  # metres per degree of latitude: tolerances are in degrees, said in metres
NECK_WIDTH_M_MAX = 5000.0  # necks wider than this are no news on a tactical map
DEFAULT_MIN_KM2 = 0.5
"""Polygon parts smaller than this (km²) are left out: islets and slivers along borders clutter a TAK map."""


def argb(a: int, r: int, g: int, b: int) -> int:
    """An ARGB colour as the signed 32-bit int ATAK writes (``0xFF0000FF`` → ``-16776961``)."""
    v = (a << 24) | (r << 16) | (g << 8) | b
    return v - (1 << 32) if v >= 1 << 31 else v


def kml_color(c: int) -> str:
    """The KML ``aabbggrr`` hex of a signed ARGB int."""
    v = c & 0xFFFFFFFF
    a, r, g, b = v >> 24, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF
    return f"{a:02x}{b:02x}{g:02x}{r:02x}"


@dataclass(frozen=True)
class Style:
    """How one layer is drawn: its name, outline and fill (signed ARGB ints), outline width."""

    name: str
    stroke: int
    fill: int
    width: float = 2.0


SIDE_STYLES = {
    "ua": Style("held ua", argb(255, 0, 87, 183), argb(80, 0, 87, 183)),
    "ru": Style("held ru", argb(255, 200, 16, 46), argb(80, 200, 16, 46)),
}
GREY_STYLE = Style("grey zone", argb(255, 110, 110, 110), argb(100, 128, 128, 128))
NECK_STYLE = Style("neck", argb(255, 255, 200, 0), 0, 4.0)
OTHER_STYLE = Style("held", argb(255, 0, 140, 70), argb(80, 0, 140, 70))


@dataclass
class Layer:
    """One polygon layer of the map: key (``held:ua``, ``contested``), style, geometry (lon/lat) and its parts.

    ``parts`` are the polygons of ``geom`` of at least the minimum area, largest first, with their km²
    (``part_km2``); ``dropped`` counts the smaller ones left out.
    """

    key: str
    style: Style
    geom: BaseGeometry
    parts: list[Polygon] = field(default_factory=list)
    part_km2: list[float] = field(default_factory=list)
    dropped: int = 0

    @classmethod
    def of(cls, key: str, style: Style, geom: BaseGeometry, min_km2: float) -> Layer:
        """The layer of ``geom`` with its parts of at least ``min_km2`` km²."""
        parts = _parts(geom)
        km2 = geodesy.areas_km2(np.array(parts, dtype=object)) if parts else np.zeros(0)
        keep = [i for i in np.argsort(-km2, kind="stable") if km2[i] >= min_km2]
        return cls(key, style, geom, [parts[i] for i in keep], [float(km2[i]) for i in keep], len(parts) - len(keep))


@dataclass
class TakMap:
    """What goes to TAK for one version: its polygon layers and (with a side) its necks."""

    source: str
    version_id: str
    revision: int
    valid_time: int
    layers: list[Layer]
    necks: list = field(default_factory=list)  # corridors.Neck
    side: str | None = None

    @property
    def title(self) -> str:
        """``Frontline 2025-03-07T…Z`` (the package's and document's name)."""
        return f"Frontline {iso(self.valid_time)}"

    @property
    def dropped(self) -> int:
        """Polygon parts left out as too small, over all layers."""
        return sum(layer.dropped for layer in self.layers)

    def uid(self, *part) -> str:
        """A stable uid for a feature of this version: a hash of the version and the part's names."""
        text = "|".join(str(p) for p in (self.source, self.version_id, self.revision, *part))
        return "frontline-" + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def region_window(region: str | None) -> BaseGeometry | None:
    """The clip window of ``--region``: ``min lon,min lat,max lon,max lat`` or a polygon file; None for none.

    Raises
    ------
    InputError
        When the text is neither four numbers in order nor a readable polygon file.
    """
    if not region:
        return None
    parts = region.split(",")
    if len(parts) == 4:
        try:
            x0, y0, x1, y1 = (float(p) for p in parts)
        except ValueError:
            raise InputError(f"{region!r} is not min lon,min lat,max lon,max lat.", field="--region") from None
        if not (x0 < x1 and y0 < y1):
            raise InputError(f"{region!r}: min lon < max lon and min lat < max lat are needed.", field="--region")
        return box(x0, y0, x1, y1)
    if not Path(region).is_file():
        raise InputError(
            f"{region!r} is neither a box (min lon,min lat,max lon,max lat) nor a polygon file.", field="--region"
        )
    from .analysis.area import load_region_file

    return load_region_file(region)


def tak_map(
    store: GeoPackageStore,
    at=None,
    *,
    side: str | None = None,
    region: str | None = None,
    source: str | None = None,
    scope: str = "abroad",
    min_km2: float = DEFAULT_MIN_KM2,
) -> TakMap:
    """The layers (held per side, grey zone) and, for ``side``, the necks of the version valid at ``at``.

    Parameters
    ----------
    at
        Time (epoch seconds or text); the latest version when None.
    side
        Whose necks to add (:func:`frontline.analysis.corridors.find_necks` on
        its ``scope`` ground); None for none.
    region
        Clip window (:func:`region_window`).
    min_km2
        Leave out polygon parts smaller than this (counted in :attr:`Layer.dropped`).

    Raises
    ------
    InputError
        For an unknown side, a bad region or a version GEOS cannot analyse.
    """
    v = resolve_version(store, at, source)
    vc = version_control(store, v)
    if side is not None and side not in vc.sides:
        raise InputError(f"Unknown side {side!r}; the store's sides are {', '.join(vc.sides)}.", field="--side")
    window = region_window(region)

    def cut(g: BaseGeometry) -> BaseGeometry:
        return g if window is None else polygonal(shapely.intersection(g, window))

    layers = [Layer.of(f"held:{s}", SIDE_STYLES.get(s, OTHER_STYLE), cut(vc.held(s)), min_km2) for s in vc.sides]
    layers.append(Layer.of(CONTESTED, GREY_STYLE, cut(vc.contested), min_km2))
    tm = TakMap(v.source, v.version_id, int(v.revision or 0), int(v.valid_time), layers, side=side)
    if side is not None:
        tm.necks = _necks(vc, side, scope, window)
    return tm


def _necks(vc, side: str, scope: str, window: BaseGeometry | None) -> list:
    """The side's necks up to :data:`NECK_WIDTH_M_MAX` wide, inside ``window`` when given."""
    from .analysis.corridors import corridor_inputs, find_necks

    kw = corridor_inputs(vc, side, scope, False)
    if kw["held"].is_empty:
        return []
    try:
        rep = find_necks(**kw)
    except GEOSException as exc:
        raise InputError(f"The necks of {side!r} could not be computed: geometry error ({exc}).") from None
    return [n for n in rep.necks if n.width_m <= NECK_WIDTH_M_MAX and (window is None or window.intersects(n.location))]


# -- simplification -----------------------------------------------------------


def fit_budget(poly: Polygon, max_vertices: int, rings: bool = True) -> tuple[Polygon, float]:
    """``poly`` simplified until it has at most ``max_vertices`` vertices, and the tolerance used (degrees).

    ``rings``: keep the holes (KML draws them), dropping those too small to see at the tolerance (under
    (20 × tolerance)² in area); otherwise the outer ring only (a CoT shape has no holes). The tolerance
    doubles from about 1 m until the shape fits; a part that vanishes comes back empty.
    """
    if not rings:
        poly = Polygon(poly.exterior)

    def count(p: Polygon) -> int:
        return 0 if p.is_empty else len(p.exterior.coords) + sum(len(r.coords) for r in p.interiors)

    tol, out = 0.0, poly
    while count(out) > max_vertices and tol <= 1.0:  # beyond a degree nothing of the shape is left to show
        tol = tol * 2 if tol else 1e-5
        seen = [r for r in poly.interiors if Polygon(r).area > (20 * tol) ** 2]
        out = shapely.simplify(Polygon(poly.exterior, seen), tol, preserve_topology=True)
        if out.geom_type != "Polygon":  # keep the largest piece of whatever simplification left
            parts = _parts(out)
            out = parts[0] if parts else Polygon()
    return (out if count(out) <= max_vertices else Polygon()), tol


def _parts(g: BaseGeometry) -> list[Polygon]:
    """The polygons of a geometry, largest first."""
    g = polygonal(g)
    return sorted((p for p in getattr(g, "geoms", [g]) if not p.is_empty), key=lambda p: -p.area)


def _tolerance_text(tol: float) -> str:
    return "not simplified" if tol == 0 else f"simplified with tolerance {tol:.6f}° (~{tol * M_PER_DEG:,.0f} m)"


# -- KML and data package ---------------------------------------------------------


def _kml_ring(ring) -> str:
    return " ".join(f"{x:.6f},{y:.6f}" for x, y in ring.coords)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    if text is not None:
        e.text = text
    return e


def _kml_styles(doc: ET.Element, tm: TakMap) -> None:
    """One ``<Style>`` per layer (outline and fill) and the neck line style."""
    for layer in tm.layers:
        st = _sub(doc, "Style", id=layer.key.replace(":", "-"))
        ls = _sub(st, "LineStyle")
        _sub(ls, "color", kml_color(layer.style.stroke))
        _sub(ls, "width", f"{layer.style.width:g}")
        ps = _sub(st, "PolyStyle")
        _sub(ps, "color", kml_color(layer.style.fill))
        _sub(ps, "fill", "1")
        _sub(ps, "outline", "1")
    st = _sub(doc, "Style", id="neck")
    ls = _sub(st, "LineStyle")
    _sub(ls, "color", kml_color(NECK_STYLE.stroke))
    _sub(ls, "width", f"{NECK_STYLE.width:g}")


def _kml_polygons(doc: ET.Element, tm: TakMap, max_vertices: int) -> None:
    """A folder per layer, one placemark per polygon part (simplified to the budget)."""
    for layer in tm.layers:
        folder = _sub(doc, "Folder")
        _sub(folder, "name", layer.style.name)
        if layer.dropped:
            _sub(folder, "description", f"{layer.dropped} part(s) below the minimum area left out.")
        km2 = geodesy.area_km2(layer.geom) if not layer.geom.is_empty else 0.0
        for i, part in enumerate(layer.parts):
            fit, tol = fit_budget(part, max_vertices)
            if fit.is_empty:
                continue
            pm = _sub(folder, "Placemark", id=tm.uid(layer.key, i))
            _sub(pm, "name", layer.style.name)
            _sub(
                pm,
                "description",
                f"{layer.style.name}, version {tm.version_id} ({iso(tm.valid_time)}); layer {km2:,.1f} km²; "
                f"{_tolerance_text(tol)}.",
            )
            _sub(pm, "styleUrl", "#" + layer.key.replace(":", "-"))
            poly = _sub(pm, "Polygon")
            _sub(_sub(_sub(poly, "outerBoundaryIs"), "LinearRing"), "coordinates", _kml_ring(fit.exterior))
            for r in fit.interiors:
                _sub(_sub(_sub(poly, "innerBoundaryIs"), "LinearRing"), "coordinates", _kml_ring(r))


def _neck_text(tm: TakMap, n) -> str:
    """A neck in words: width, type, ground beyond, banks, version."""
    cut = n.parts[0]
    return (
        f"Neck {n.rank} of {tm.side}'s ground: {n.width_m:,.0f} m wide ({n.type}), "
        f"{cut.area_km2:,.1f} km² beyond it; banks: {' | '.join(n.banks) or '-'}; "
        f"version {tm.version_id} ({iso(tm.valid_time)})."
    )


def build_kml(tm: TakMap, max_vertices: int = DEFAULT_MAX_VERTICES) -> bytes:
    """The styled KML of a :class:`TakMap`: a folder per layer and one of necks (lines, width in the text)."""
    kml = ET.Element("kml", xmlns="http://www.opengis.net/kml/2.2")
    doc = _sub(kml, "Document")
    _sub(doc, "name", tm.title)
    _sub(doc, "description", f"Control map of {tm.source} version {tm.version_id}, from Frontline.")
    _kml_styles(doc, tm)
    _kml_polygons(doc, tm, max_vertices)
    if tm.necks:
        folder = _sub(doc, "Folder")
        _sub(folder, "name", f"necks of {tm.side}")
        for n in tm.necks:
            pm = _sub(folder, "Placemark", id=tm.uid("neck", tm.side, n.rank))
            _sub(pm, "name", f"neck {n.rank}: {n.width_m:,.0f} m")
            _sub(pm, "description", _neck_text(tm, n))
            _sub(pm, "styleUrl", "#neck")
            _sub(_sub(pm, "LineString"), "coordinates", _kml_ring(n.segment))
    return ET.tostring(kml, encoding="utf-8", xml_declaration=True)


def manifest_xml(uid: str, name: str, entries: list[str]) -> bytes:
    """A MissionPackageManifest (version 2): the package's uid and name, and its files."""
    m = ET.Element("MissionPackageManifest", version="2")
    conf = _sub(m, "Configuration")
    _sub(conf, "Parameter", name="uid", value=uid)
    _sub(conf, "Parameter", name="name", value=name)
    _sub(conf, "Parameter", name="onReceiveDelete", value="false")
    contents = _sub(m, "Contents")
    for e in entries:
        _sub(contents, "Content", ignore="false", zipEntry=e)
    return ET.tostring(m, encoding="utf-8", xml_declaration=True)


def write_package(tm: TakMap, path: str | Path, max_vertices: int = DEFAULT_MAX_VERTICES) -> dict:
    """Write a TAK data package (zip: ``MANIFEST/manifest.xml`` and a styled KML) and say what is in it."""
    path = Path(path)
    stamp = (iso(tm.valid_time) or "").replace(":", "").replace("-", "")
    kml_name = f"frontline-{stamp}{'-' + tm.side if tm.side else ''}.kml"
    kml = build_kml(tm, max_vertices)
    uid = tm.uid("package", tm.side)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("MANIFEST/manifest.xml", manifest_xml(uid, tm.title, [kml_name]))
        z.writestr(kml_name, kml)
    return {
        "file": str(path),
        "version_id": tm.version_id,
        "time": iso(tm.valid_time),
        "kml": kml_name,
        "kml_bytes": len(kml),
        "necks": len(tm.necks),
        "dropped_parts": tm.dropped,
        "bytes": path.stat().st_size,
    }


# -- CoT ---------------------------------------------------------------------------


def cot_time(t: float) -> str:
    """CoT time text: ``2025-03-07T12:00:00.000Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


@dataclass
class Shape:
    """One CoT drawing: uid, callsign, vertices (lon, lat), closed or not, colours, remarks."""

    uid: str
    callsign: str
    coords: list[tuple[float, float]]
    closed: bool
    style: Style
    remarks: str


def cot_shapes(tm: TakMap, max_vertices: int = DEFAULT_MAX_VERTICES) -> list[Shape]:
    """The map's polygons (outer rings, simplified to the budget) and necks as CoT drawing shapes."""
    shapes = []
    for layer in tm.layers:
        for i, (part, part_km2) in enumerate(zip(layer.parts, layer.part_km2, strict=True)):
            fit, tol = fit_budget(part, max_vertices, rings=False)
            if fit.is_empty:
                continue
            holes = len(fit.interiors)
            remarks = (
                f"{layer.style.name}, version {tm.version_id} ({iso(tm.valid_time)}); part {i + 1}, "
                f"{part_km2:,.1f} km²; {_tolerance_text(tol)}"
                + (f"; {holes} hole(s) not drawn (other layers lie over them)" if holes else "")
                + "."
            )
            coords = list(shapely.get_coordinates(fit.exterior))
            shapes.append(
                Shape(tm.uid(layer.key, i), layer.style.name, [(x, y) for x, y in coords], True, layer.style, remarks)
            )
    for n in tm.necks:
        coords = [(x, y) for x, y in LineString(n.segment).coords]
        shapes.append(
            Shape(
                tm.uid("neck", tm.side, n.rank),
                f"neck {n.width_m:,.0f} m",
                coords,
                False,
                NECK_STYLE,
                _neck_text(tm, n),
            )
        )
    return shapes


def _event(uid: str, type_: str, lat: float, lon: float, now: float, stale_s: float) -> ET.Element:
    """A CoT ``<event>`` with its times and point (hae/ce/le unknown)."""
    e = ET.Element(
        "event",
        version="2.0",
        uid=uid,
        type=type_,
        how="m-g",  # machine-generated
        time=cot_time(now),
        start=cot_time(now),
        stale=cot_time(now + stale_s),
    )
    _sub(e, "point", lat=f"{lat:.6f}", lon=f"{lon:.6f}", hae="9999999.0", ce="9999999.0", le="9999999.0")
    return e


def shape_event(s: Shape, now: float, stale_s: float = DEFAULT_STALE_S) -> ET.Element:
    """A drawing shape (``u-d-f``) event: the centre as its point, a ``<link point>`` per vertex."""
    xs, ys = [c[0] for c in s.coords], [c[1] for c in s.coords]
    e = _event(s.uid, "u-d-f", (min(ys) + max(ys)) / 2, (min(xs) + max(xs)) / 2, now, stale_s)
    d = _sub(e, "detail")
    for x, y in s.coords:
        _sub(d, "link", point=f"{y:.6f},{x:.6f}")
    _sub(d, "strokeColor", value=str(s.style.stroke))
    _sub(d, "strokeWeight", value=f"{s.style.width:.1f}")
    if s.closed:
        _sub(d, "fillColor", value=str(s.style.fill))
    _sub(d, "contact", callsign=s.callsign)
    _sub(d, "remarks", s.remarks)
    _sub(d, "labels_on", value="false")
    _sub(d, "archive")
    return e


def cot_events(
    tm: TakMap, *, max_vertices: int = DEFAULT_MAX_VERTICES, stale_s: float = DEFAULT_STALE_S, now: float | None = None
) -> list[ET.Element]:
    """The CoT events of a :class:`TakMap` (sent now, stale after ``stale_s``)."""
    now = time.time() if now is None else now
    return [shape_event(s, now, stale_s) for s in cot_shapes(tm, max_vertices)]


def write_cot(events: list[ET.Element], path: str | Path, stream: bool = False) -> dict:
    """Write events as one ``<events>`` document, or with ``stream`` one event per line (as a TAK server takes them)."""
    path = Path(path)
    if stream:
        data = b"".join(ET.tostring(e, encoding="utf-8") + b"\n" for e in events)
    else:
        root = ET.Element("events")
        root.extend(events)
        data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    path.write_bytes(data)
    n_vertices = sum(len(e.findall("detail/link")) for e in events)
    return {"file": str(path), "events": len(events), "vertices": n_vertices, "bytes": len(data)}


def marker_event(
    uid: str,
    lon: float,
    lat: float,
    callsign: str,
    remarks: str,
    *,
    now: float | None = None,
    stale_s: float = DEFAULT_STALE_S,
    type_: str = "b-m-p-s-m",
) -> bytes:
    """A map marker (spot, ``b-m-p-s-m``) at a place with ``remarks``: how an alert reaches TAK."""
    now = time.time() if now is None else now
    e = _event(uid, type_, lat, lon, now, stale_s)
    d = _sub(e, "detail")
    _sub(d, "contact", callsign=callsign)
    _sub(d, "remarks", remarks)
    _sub(d, "color", argb=str(argb(255, 255, 200, 0)))
    return ET.tostring(e, encoding="utf-8")  # no XML declaration: TAK servers split a stream on <event>


def parse_tak_url(url: str, where: str = "tak") -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``tcp://host:port`` or ``udp://host:port``.

    Raises
    ------
    InputError
        When the scheme is not tcp or udp, or the host or port is missing.
    """
    u = urlsplit(url)
    try:
        port = u.port
    except ValueError:
        port = None
    if u.scheme not in ("tcp", "udp") or not u.hostname or port is None:
        raise InputError(f'{url!r} is not "tcp://host:port" or "udp://host:port".', where=where)
    return u.scheme, u.hostname, port


def send_cot(url: str, data: bytes, timeout_s: float = 5.0) -> None:
    """Send one CoT event to a TAK server or receiver (TCP stream, or one UDP datagram).

    Raises
    ------
    FetchError
        When the receiver cannot be reached or refuses the data.
    """
    scheme, host, port = parse_tak_url(url)
    try:
        if scheme == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout_s)
                s.sendto(data, (host, port))
        else:
            with socket.create_connection((host, port), timeout=timeout_s) as s:
                s.sendall(data)
    except OSError as exc:
        raise FetchError(f"TAK {url}: {exc}") from None
