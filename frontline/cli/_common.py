"""Shared plumbing of the command modules: console, options, tables, errors.

Every command takes ``--store`` (or ``$FRONTLINE_STORE``; default
``./frontline.gpkg``). Commands that print tables take ``--json`` (and some
``--csv``) for scripts; their field names are stable.

Times: every option that takes one is made here (:data:`AT_OPT`,
:data:`FROM_OPT`, :data:`TO_OPT`, :func:`time_option`) with the type
:class:`TimeParam`, which reads the text by the option's role
(:mod:`frontline.times`: ``--from 2025-01-01`` starts at 00:00:00 UTC,
``--to``/``--at 2025-01-01`` end at 23:59:59 UTC) and hands the command
epoch seconds. Commands with such options also take ``--max-age`` and
``--strict`` (:func:`frontline.state.time_policy`): a stale time is warned
about on stderr, or refused.
"""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

# Wide tables when piped (the demo's table is read in CI logs and terminals alike).
console = Console() if sys.stdout.isatty() else Console(width=160)

STORE_OPT = click.option("--store", "store_path", envvar="FRONTLINE_STORE", type=click.Path(dir_okay=False),
                         default=None, help="Store file (default: $FRONTLINE_STORE or ./frontline.gpkg).")


class TimeParam(click.ParamType):
    """A time option's value read by its role: epoch seconds (``"latest"`` kept when allowed).

    Parameters
    ----------
    role
        ``"at"``, ``"start"`` or ``"end"`` (:func:`frontline.times.parse_time`).
    latest
        Accept ``latest`` (passed through as the text ``"latest"``).
    keep_text
        Check the text but pass it on unchanged (for times stored as given,
        e.g. a claim's publication time).
    """

    name = "TIME"

    def __init__(self, role: str = "at", *, latest: bool = False, keep_text: bool = False):
        self.role, self.latest, self.keep_text = role, latest, keep_text

    def convert(self, value, param, ctx):
        from ..times import parse_time

        if value is None or isinstance(value, int):
            return value
        text = str(value).strip()
        if self.latest and text == "latest":
            return "latest"
        try:
            t = parse_time(text, role=self.role)  # type: ignore[arg-type]
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return text if self.keep_text else t


def _set_policy(field: str):
    def callback(ctx: click.Context, param: click.Parameter, value):
        from ..state import reset_time_policy, set_time_policy
        from ..times import parse_duration

        if field == "max_age_s":
            if value is None:
                return value
            try:
                value = parse_duration(value, name="--max-age")
            except ValueError as exc:
                raise click.BadParameter(str(exc).split(": ", 1)[-1], ctx=ctx, param=param) from None
        elif not value:
            return value
        token = set_time_policy(**{field: value})
        ctx.call_on_close(lambda: reset_time_policy(token))
        return value

    return callback


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def _policy_options(f):
    """Add ``--max-age`` and ``--strict`` once per command, listed last in ``--help``; not passed to ``f``."""
    have = {p.name for p in getattr(f, "__click_params__", [])}
    if "max_age" not in have:
        f = click.option("--max-age", "max_age", envvar="FRONTLINE_MAX_AGE", default=None, metavar="DURATION",
                         expose_value=False, callback=_set_policy("max_age_s"),
                         help="Warn when a time is more than this after the version that answers it "
                              "(7d, 36h, off; default $FRONTLINE_MAX_AGE or 7d). A time on a later day than "
                              "the last version is always warned about.")(f)
        f.__click_params__.insert(0, f.__click_params__.pop())
    if "strict" not in have:
        f = click.option("--strict", "strict", is_flag=True, expose_value=False, callback=_set_policy("strict"),
                         help="Refuse (exit 1) instead of warning about a time the store cannot vouch for.")(f)
        f.__click_params__.insert(0, f.__click_params__.pop())
    return f


def _set_reporter(ctx: click.Context, param: click.Parameter, value):
    """Stale-time warnings go to stderr as one line (set once per command, undone when it ends)."""
    from ..state import reset_time_policy, set_time_policy

    if not ctx.meta.get("frontline.time_reporter"):
        ctx.meta["frontline.time_reporter"] = True
        token = set_time_policy(report=_warn)
        ctx.call_on_close(lambda: reset_time_policy(token))
    return value


TIME_HELP = "an ISO time (2025-03-06T18:00Z; UTC unless zoned) or epoch seconds"


def time_option(*decls: str, role: str = "at", help: str, latest: bool = False, keep_text: bool = False,
                policy: bool = True, **kw):
    """A time option of any name, read by ``role``, with its meaning in ``--help``.

    ``policy`` also adds ``--max-age`` and ``--strict`` (for times that pick a version).
    """
    day = {"start": "its start, 00:00:00 UTC", "end": "its end, 23:59:59 UTC", "at": "its end, 23:59:59 UTC"}[role]
    opt = click.option(*decls, type=TimeParam(role, latest=latest, keep_text=keep_text),
                       callback=_set_reporter if policy else None,
                       help=f"{help} TIME: a date (= {day}), {TIME_HELP}.", **kw)

    def deco(f):
        f = opt(f)
        return _policy_options(f) if policy else f

    return deco


def at_option(help: str = "Time of the map; the latest version when not given.", **kw):
    """``--at TIME`` (a bare date is the end of that day); ``latest`` accepted."""
    return time_option("--at", "at", role="at", help=help, latest=True, default=None, **kw)


def from_option(help: str = "Start of the range (inclusive).", required: bool = False, **kw):
    """``--from TIME`` (a bare date is the start of that day)."""
    return time_option("--from", "start", role="start", help=help, required=required, default=None, **kw)


def to_option(help: str = "End of the range (inclusive).", required: bool = False, **kw):
    """``--to TIME`` (a bare date is the end of that day)."""
    return time_option("--to", "end", role="end", help=help, required=required, default=None, **kw)


AT_OPT = at_option()
FROM_OPT = from_option()
TO_OPT = to_option()


def _open(store_path, readonly=False):
    from ..store import open_store

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
