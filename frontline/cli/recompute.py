"""``frontline recompute``: compute the per-version results the web map serves and keep them in the store."""

from __future__ import annotations

import sys

import click

from ..errors import InputError, NoVersionError
from ._common import STORE_OPT, _open, _print_json, _table, console, from_option, guard, to_option


def parse_what(text: str | None) -> tuple[str, ...]:
    """The analyses named in ``--what`` (comma-separated; all when empty).

    Raises
    ------
    click.BadParameter
        On a name that is not an analysis.
    """
    from ..analysis.materialise import WHATS

    if not text:
        return WHATS
    names = tuple(dict.fromkeys(w.strip() for w in text.split(",") if w.strip()))
    bad = [w for w in names if w not in WHATS]
    if bad:
        raise click.BadParameter(
            f"{bad[0]!r} is not an analysis; choose from {', '.join(WHATS)} (comma-separated).", param_hint="--what"
        )
    return names or WHATS


def run_recompute(
    st,
    versions,
    what,
    *,
    workers,
    force: bool,
    quiet: bool,
    as_json: bool,
    print_json: bool = True,
    scheduler: str | None = None,
):
    """Materialise ``what`` (all analyses when None) for ``versions`` of the open store ``st``; print the report.

    With ``as_json`` the report is printed as JSON only when ``print_json``
    (``import --recompute --json`` puts it in its own report instead). With
    ``scheduler`` (a Dask scheduler address) the versions are computed on
    that cluster's workers.

    Returns
    -------
    MaterialiseReport
    """
    from ..analysis.materialise import WHATS, materialise

    what = tuple(what or WHATS)
    rep = materialise(
        st, versions, what, workers=workers, progress=not (quiet or as_json), force=force, scheduler=scheduler
    )
    if as_json:
        if print_json:
            _print_json(rep.as_dict())
    else:
        print_report(rep, len(versions))
        if "settlements" in what and not any(o.what == "settlements" for o in rep.outcomes):
            console.print(
                "settlements: none kept, the store holds no gazetteer (import one with "
                "`frontline settlements import`, then run `frontline recompute` again)."
            )
    return rep


def _short(pkey: str) -> str:
    """Parameters as a reader wants them: the defaults left out, a gazetteer stamp cut to 8 characters."""
    from ..analysis.materialise import CORRIDOR_DEFAULTS

    defaults = {f"{k}={v}" for k, v in CORRIDOR_DEFAULTS.items()}
    parts = []
    for p in (pkey or "").split("&"):
        if not p or p == "-" or p in defaults:
            continue
        k, _, v = p.partition("=")
        parts.append(f"gazetteer {v[:8]}" if k == "gazetteer" else p)
    return ", ".join(parts) or "-"


def print_report(rep, n_versions: int) -> None:
    """The table of what was computed, skipped and failed, and the failures by version."""
    rows = [
        {
            **r,
            "params": _short(r["params"]),
            "median_ms": None if r["median_s"] is None else int(round(r["median_s"] * 1000)),
        }
        for r in rep.summary()
    ]
    if not rows:
        console.print(
            "Nothing to recompute: no analysis applies to these versions (settlements need a gazetteer in the store)."
        )
        return
    _table(
        rows,
        ["what", "params", "computed", "skipped", "failed", "median_ms", "total_s"],
        title=f"Recompute: {n_versions} versions, {rep.workers} worker(s), {rep.elapsed_s:,.1f} s",
        caption="median_ms: milliseconds per version to compute it (a worker's time); skipped: already stored for "
        "the version's current revision and rule",
    )
    if rep.backfilled:
        console.print(
            f"Kept {rep.backfilled:,} compact series rows read from results stored before them (none computed)."
        )
    if rep.stored_bytes:
        console.print(
            f"Stored {rep.count('computed')} results ({rep.stored_bytes / 2**20:,.1f} MiB of JSON before compression)."
        )
    failed = rep.failed
    if failed:
        frows = [
            {"version": o.version_id, "what": o.what, "params": _short(o.params_key), "reason": o.reason}
            for o in failed[:50]
        ]
        _table(frows, ["version", "what", "params", "reason"], title="Failed (the rest was stored)")
        if len(failed) > 50:
            console.print(f"… and {len(failed) - 50} more failures (use --json for all).")


@click.command("recompute")
@STORE_OPT
@click.option(
    "--what",
    "what_text",
    default=None,
    metavar="LIST",
    help="Analyses to keep: contact-line,corridors,settlements (comma-separated; default all).",
)
@from_option("First version's time (default: the first).")
@to_option("Last version's time (default: the last).")
@click.option("--source", default=None, help="Source name (default: the store's default source).")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Worker processes (default: CPU count, at most 4)."
)
@click.option(
    "--scheduler",
    default=None,
    envvar="FRONTLINE_SCHEDULER",
    metavar="ADDRESS",
    help="Dask scheduler (tcp://HOST:PORT; default $FRONTLINE_SCHEDULER): compute on its workers, which open "
    "the store by its path (needs frontline[cluster]).",
)
@click.option("--force", is_flag=True, help="Recompute results already stored for the current revision and rule.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@guard()
def recompute(store_path, what_text, start, end, source, workers, scheduler, force, as_json, quiet):
    """Compute the per-version results the web map serves and keep them in the store.

    Per version: the contact line, the corridors of each side's ground held
    abroad (default parameters) and the status of every settlement of the
    store's gazetteer. `frontline serve` then answers them from the store
    instead of computing them on the first request. Results already stored for
    a version's current revision and the code's rule are skipped, so a re-run
    only does what is new; a revised version or a changed rule is recomputed.
    A version whose analysis fails is reported and the rest goes on (exit
    status 1 when nothing could be computed). See docs/recompute.md.

    \b
    frontline recompute --store ds.gpkg
    frontline recompute --what contact-line --from 2025-01-01 --workers 2
    frontline recompute --scheduler tcp://10.0.0.5:8786   # on a Dask cluster
    """
    what = parse_what(what_text)
    if start is not None and end is not None and start > end:
        raise InputError("The range is inverted: --from is after --to.")
    st = _open(store_path)
    versions = [
        v
        for v in st.versions(source)
        if (start is None or v.valid_time >= start) and (end is None or v.valid_time <= end)
    ]
    if not versions:
        from ..state import empty_range_message

        raise NoVersionError(empty_range_message(st.versions(source), start, end, st.default_source(source)))
    rep = run_recompute(
        st, versions, what, workers=workers, force=force, quiet=quiet, as_json=as_json, scheduler=scheduler
    )
    if rep.failed and not (rep.count("computed") or rep.count("skipped")):
        sys.exit(1)
