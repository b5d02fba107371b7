"""``frontline import``: import map versions: a folder, file or .tar/.tar.gz/.tar.zst archive, or --url."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from rich.table import Table

from ..errors import InputError
from ._common import STORE_OPT, _open, _print_json, choice_option, console, guard, path_option, time_option


@click.command("import")
@STORE_OPT
@click.argument("path", required=False)
@click.option("--url", default=None, help="Fetch from a DeepState-shaped API base URL instead of a path.")
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="With --url: seconds per request before it is retried.",
)
@click.option(
    "--retries",
    default=4,
    show_default=True,
    type=click.IntRange(0, 20),
    help="With --url: retries per request (backoff with jitter).",
)
@choice_option(
    "--format",
    "fmt",
    choices=["deepstate", "gis"],
    default="deepstate",
    help="deepstate: archived snapshots/API JSON; gis: any GDAL layer with --mapping.",
)
@path_option("--mapping", exists=True, help="JSON mapping of attribute/style values to statuses (for --format gis).")
@time_option(
    "--time",
    "at",
    role="at",
    help="Situation time of a GIS layer, for --format gis.",
    keep_text=True,
    policy=False,
    default=None,
)
@click.option(
    "--source", default=None, help="Source name to store the versions under (default: deepstate; gis: the file name)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes for archives and folders (default: CPU count, at most 4).",
)
@click.option(
    "--recompute",
    "then_recompute",
    is_flag=True,
    help="Then keep the web map's per-version results in the store (as `frontline recompute`; "
    "only what is new or revised is computed; the full archive takes minutes).",
)
@guard()
def import_(store_path, path, url, timeout, retries, fmt, mapping, at, source, as_json, quiet, workers, then_recompute):
    """Import map versions: a folder, file or .tar/.tar.gz/.tar.zst archive, or --url.

    Re-importing the same versions changes nothing; a version served again with
    different content is stored as a revision. Bad files are reported by name
    and skipped; the rest goes on. --url fetches what a DeepState-shaped feed
    has that the store lacks (as `frontline pull deepstate --base-url`).
    Exit status 1 when nothing could be imported (or the feed's listing could
    not be read).

    \b
    frontline import history.tar.zst
    frontline import --url https://deepstatemap.live/api
    """
    from ..ingest import Importer

    if not path and not url:
        raise click.UsageError("Give a PATH to import or --url.")
    if path and url:
        raise click.UsageError("Give a PATH or --url, not both.")
    st = _open(store_path)
    if url:
        after = (lambda: _recompute(st, workers, quiet=quiet, as_json=as_json)) if then_recompute else None
        _import_url(st, url, quiet=quiet, as_json=as_json, timeout=timeout, retries=retries, after=after)
        return
    imp = Importer(st)
    if fmt == "gis":
        from ..sources import gis

        if not mapping:
            raise click.UsageError("--format gis needs --mapping FILE (see docs/mapping.md).")
        report = imp.run(gis.read(path, mapping, at=at, source=source), total=1, progress=not quiet)
    else:
        from ..ingest import import_files
        from ..sources import deepstate
        from ..sources._archive import iter_members

        n = deepstate.count(Path(path))
        if source and source != deepstate.SOURCE:
            # The worker readers name every version "deepstate"; renaming needs the snapshots in this process.
            report = imp.run(_renamed(deepstate.read_path(Path(path)), source), total=n, progress=not quiet)
        else:
            if n is not None and n < 8:
                workers = 1  # a few files: starting workers costs more than it saves
            report = import_files(
                st, iter_members(Path(path), deepstate.FILE_SUFFIXES), workers=workers, total=n, progress=not quiet
            )
    st.log_import(str(path), report)
    if not as_json:
        _print_report(report)
    extra = _recompute(st, workers, quiet=quiet, as_json=as_json) if then_recompute else {}
    if as_json:
        _print_json(report.as_dict() | extra)
    if report.failed and not (report.added or report.revised or report.unchanged):
        sys.exit(1)


def _renamed(snapshots, source: str):
    """DeepState-format snapshots stored under another source name (bad files, ``(origin, reason)``, kept)."""
    from dataclasses import replace

    for snap in snapshots:
        yield snap if isinstance(snap, tuple) else replace(snap, source=source)


def _recompute(st, workers: int | None, *, quiet: bool, as_json: bool) -> dict:
    """``import --recompute``: materialise every analysis for the store's versions (the stored ones skipped).

    Returns ``{"recompute": report}`` for the JSON report (the table is printed otherwise).
    """
    from .recompute import run_recompute

    versions = [v for s in st.sources() for v in st.versions(s)]
    if not versions:
        return {}
    if not as_json:
        console.print("Recomputing the web map's per-version results (`frontline recompute`):")
    rep = run_recompute(
        st, versions, None, workers=workers, force=False, quiet=quiet, as_json=as_json, print_json=False
    )
    return {"recompute": rep.as_dict()}


def _import_url(
    st, url: str, *, quiet: bool, as_json: bool, timeout: float = 30.0, retries: int = 4, after=None
) -> None:
    """``import --url``: an incremental pull of a DeepState-shaped feed (it logs its own import).

    ``after``: called once the pull is done (``--recompute``); its dict joins the JSON report.
    """
    from ..live_pull import pull

    if not url.lower().startswith(("http://", "https://")):
        raise InputError(f"--url must be an http(s) URL of a DeepState-shaped API root, not {url!r}.")
    live_log = logging.getLogger("frontline.live")
    level = live_log.level
    live_log.setLevel(logging.CRITICAL)  # its warnings are this command's report (no second copy on stderr)
    try:
        res = pull(st, url, progress=not (quiet or as_json), timeout=timeout, retries=retries)
    finally:
        live_log.setLevel(level)
    if not as_json and res.error is None:
        if res.pending == 0:
            console.print(f"{url}: {res.listed} versions listed; the store holds them all (nothing new).")
        else:
            console.print(f"{url}: {res.listed} versions listed, {res.pending} new or revised fetched.")
            _print_report(res.report)  # failed versions are among its problems, by URL
    extra = after() if after is not None and res.error is None else {}
    if as_json:
        _print_json(res.as_dict() | extra)
    if res.error:
        if not as_json:
            click.echo(f"Error: cannot read the feed's listing: {res.error}", err=True)
        sys.exit(1)
    if res.failed and not res.imported:
        sys.exit(1)


def _print_report(report) -> None:
    console.print(
        f"[bold]{report.added}[/] added, [bold]{report.revised}[/] revised, {report.unchanged} unchanged, "
        f"[{'red' if report.failed else 'green'}]{report.failed} failed[/]; {report.new_features} new features, "
        f"{report.repaired} repaired, {report.skipped_features} skipped, {report.unclassified} unclassified."
    )
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
