"""``frontline import``: import map versions: a folder, file or .tar/.tar.gz/.tar.zst archive, or --url."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from ._common import STORE_OPT, _fail, _open, _print_json, console


@click.command("import")
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
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes for archives and folders (default: CPU count, at most 4).")
def import_(store_path, path, url, fmt, mapping, at, source, as_json, quiet, workers):
    """Import map versions: a folder, file or .tar/.tar.gz/.tar.zst archive, or --url.

    Re-importing the same versions changes nothing; a version served again with
    different content is stored as a revision. Bad files are reported by name
    and skipped; the rest goes on.
    """
    from ..ingest import Importer

    if not path and not url:
        raise click.UsageError("Give a PATH to import or --url.")
    st = _open(store_path)
    imp = Importer(st)
    try:
        if url:
            from ..sources.live import pull

            report = pull(st, url, progress=not quiet, importer=imp)
        elif fmt == "gis":
            from ..sources import gis

            if not mapping:
                raise click.UsageError("--format gis needs --mapping FILE (see docs/mapping.md).")
            report = imp.run(gis.read(path, mapping, at=at, source=source), total=1, progress=not quiet)
        else:
            from ..ingest import import_files
            from ..sources import deepstate
            from ..sources._archive import iter_members

            n = deepstate.count(Path(path))
            if n is not None and n < 8:
                workers = 1  # a few files: starting workers costs more than it saves
            report = import_files(st, iter_members(Path(path), deepstate.FILE_SUFFIXES), workers=workers, total=n,
                                  progress=not quiet)
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
