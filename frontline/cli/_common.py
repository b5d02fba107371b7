"""Shared plumbing of the command modules: the command wrapper, console, options, tables.

Every command's callback runs under :func:`guard`, which opens its store and
turns the errors a user can meet into a message and an exit status
(:data:`EXIT_STATUS_HELP`).

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
about on stderr, or refused. They also take ``--as-known-at TIME``: the
store is then read as the source had published it by that time
(:mod:`frontline.store.known_at`), with a ``Note:`` line naming the revision.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Literal

import click

from ..errors import FrontlineError, InputError, StoreError


class _Console:
    """rich's console for stdout, made on first use: a command that prints no markup never imports rich."""

    def __init__(self):
        self._real = None

    def _get(self):
        if self._real is None:
            from rich.console import Console

            # Wide tables when piped (the demo's table is read in CI logs and terminals alike).
            self._real = Console() if sys.stdout.isatty() else Console(width=160)
        return self._real

    @property
    def width(self) -> int:
        """Columns a table may take: the terminal's, 160 when piped (as rich's console)."""
        if self._real is None and not sys.stdout.isatty():
            return 160
        return self._get().width

    def print(self, *args, **kwargs) -> None:
        """As ``rich.console.Console.print`` (markup, tables)."""
        self._get().print(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._get(), name)


console = _Console()

STORE_OPT = click.option(
    "--store",
    "store_path",
    envvar="FRONTLINE_STORE",
    type=click.Path(dir_okay=False),
    default=None,
    help="Store file (default: $FRONTLINE_STORE or ./frontline.gpkg).",
)


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
            t = parse_time(text, role=self.role)
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


def _note(message: str) -> None:
    """One ``Note:`` line on stderr, each text once per command (several lookups may answer alike)."""
    ctx = click.get_current_context(silent=True)
    said = ctx.meta.setdefault("frontline.notes", set()) if ctx is not None else set()
    if message not in said:
        said.add(message)
        click.echo(f"Note: {message}", err=True)


KNOWN_AT_HELP = (
    "The map as the source had published it by this time: only versions known then, each in the "
    "revision current then. A revision counts as known from the source's revision time (revised_at), "
    "else its first publication (published_at), else when this store imported it (imported_at); "
    "the note on stderr says which. TIME: a date (= its end, 23:59:59 UTC), " + "{TIME_HELP}."
)


def _set_known_at(ctx: click.Context, param: click.Parameter, value):
    from ..state import reset_time_policy, set_time_policy
    from ..times import parse_time

    if value is None:
        return value
    try:
        t = parse_time(str(value).strip(), role="at", name="--as-known-at")
    except ValueError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1], ctx=ctx, param=param) from None
    token = set_time_policy(known_at=t, note=_note)
    ctx.call_on_close(lambda: reset_time_policy(token))
    return t


def _policy_option_specs() -> list[tuple[str, dict]]:
    """``(parameter name, click.option arguments)`` of the options every time-taking command gets."""
    return [
        (
            "as_known_at",
            dict(
                param_decls=("--as-known-at", "as_known_at"),
                default=None,
                metavar="TIME",
                callback=_set_known_at,
                help=KNOWN_AT_HELP.format(TIME_HELP=TIME_HELP),
            ),
        ),
        (
            "max_age",
            dict(
                param_decls=("--max-age", "max_age"),
                envvar="FRONTLINE_MAX_AGE",
                default=None,
                metavar="DURATION",
                callback=_set_policy("max_age_s"),
                help="Warn when a time is more than this after the version that answers it "
                "(7d, 36h, off; default $FRONTLINE_MAX_AGE or 7d). A time on a later day than "
                "the last version is always warned about.",
            ),
        ),
        (
            "strict",
            dict(
                param_decls=("--strict", "strict"),
                is_flag=True,
                callback=_set_policy("strict"),
                help="Refuse (exit 1) instead of warning about a time the store cannot vouch for.",
            ),
        ),
    ]


def _policy_options(f):
    """Add ``--as-known-at``, ``--max-age``, ``--strict`` once per command, last in ``--help``; not passed to ``f``."""
    have = {p.name for p in getattr(f, "__click_params__", [])}
    for name, spec in _policy_option_specs():
        if name in have:
            continue
        spec = dict(spec)
        f = click.option(*spec.pop("param_decls"), expose_value=False, **spec)(f)
        f.__click_params__.insert(0, f.__click_params__.pop())  # listed after the command's own options
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


def time_option(
    *decls: str, role: str = "at", help: str, latest: bool = False, keep_text: bool = False, policy: bool = True, **kw
):
    """A time option of any name, read by ``role``, with its meaning in ``--help``.

    ``policy`` also adds ``--max-age`` and ``--strict`` (for times that pick a version).
    """
    day = {"start": "its start, 00:00:00 UTC", "end": "its end, 23:59:59 UTC", "at": "its end, 23:59:59 UTC"}[role]
    opt = click.option(
        *decls,
        type=TimeParam(role, latest=latest, keep_text=keep_text),
        callback=_set_reporter if policy else None,
        help=f"{help} TIME: a date (= {day}), {TIME_HELP}.",
        **kw,
    )

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


def path_option(*decls: str, help: str, exists: bool = False):
    """An option naming a file (not a folder), None when not given; ``exists``: it must be there."""
    return click.option(*decls, type=click.Path(exists=exists, dir_okay=False), default=None, help=help)


def choice_option(*decls: str, choices: list[str], default: str | None = None, help: str | None = None):
    """An option taking one of a few words; its default is shown in ``--help`` unless it is None."""
    return click.option(
        *decls, type=click.Choice(choices), default=default, show_default=default is not None, help=help
    )


def series_options(at_help: str, from_help: str, to_help: str, every_help: str):
    """``--at`` for one time, or ``--from``/``--to``/``--every`` for a series (see :func:`one_time_or_series`)."""
    from ..times import PERIODS

    opts = [
        at_option(at_help),
        from_option(from_help),
        to_option(to_help),
        click.option("--every", type=click.Choice(list(PERIODS)), default=None, help=every_help),
    ]

    def deco(f):
        for opt in reversed(opts):  # as if written as stacked decorators, top first
            f = opt(f)
        return f

    return deco


def one_time_or_series(at, start, end, every) -> bool:
    """True for a series (``--from``, ``--to`` or ``--every`` given), False for one time.

    Raises
    ------
    InputError
        When ``--at`` comes with a series option.
    """
    series = bool(start or end or every)
    if at and series:
        raise InputError("Give either --at or --from/--to/--every, not both.")
    return series


def stored_note(n_stored: int, n_total: int, what: str, *, hint: bool = True) -> None:
    """Say on stderr how many versions of a series came from the store and how many were computed.

    Parameters
    ----------
    n_stored, n_total
        Versions read from stored results, versions in the series.
    what
        The ``frontline recompute --what`` value that would store the rest.
    hint
        With nothing stored, say how to store them (left out for ``--json`` and when stored results are off).
    """
    todo = n_total - n_stored
    if n_stored:
        rest = f"; {todo:,} computed (not stored: frontline recompute --what {what})" if todo else ""
        click.echo(
            f"{n_stored:,} of {n_total:,} versions read from stored results (frontline recompute){rest}.", err=True
        )
    elif hint and todo > 5:
        _note(f"{todo:,} versions computed, none was stored: `frontline recompute --what {what}` keeps them.")


def parse_lonlat(text: str, option: str = "--near", example: str = "") -> tuple[float, float]:
    """``(lon, lat)`` from an option's ``"lon,lat"`` text.

    Raises
    ------
    InputError
        When the text is not two numbers separated by a comma.
    """
    try:
        lon, lat = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"{option} {text!r} is not lon,lat{example}.") from None
    return lon, lat


def print_summary(out: dict, as_json: bool, text: str, problems=(), more=()) -> None:
    """An import's outcome: ``out`` as JSON, or ``text``, the ``problems`` (in yellow) and ``more`` lines."""
    if as_json:
        _print_json(out)
        return
    console.print(text)
    for p in problems:
        console.print(f"  [yellow]{p}[/]")
    for line in more:
        console.print(line)


EXIT_ERROR = 1
"""Exit status of an error the user can mend: input, a missing version, the store, the network."""
EXIT_USAGE = 2
"""Exit status of a command line click cannot parse (unknown option, bad value): click's own."""
EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT, as shells report it)."""

EXIT_STATUS_HELP = """\b
Exit status:
  0    done
  1    an error you can mend, named on stderr: input (file, record, field), no version at
       that time or in that range, a store that cannot be used, a feed that cannot be read
  2    the command line cannot be parsed (unknown option, a value of the wrong form)
  3    frontline pull: some versions could not be fetched (the rest was stored)
  130  interrupted (Ctrl-C); a version being imported is rolled back
Anything else, with a traceback, is a bug: please report it."""

# Errors a user can meet. Plain ValueError and the file errors stay here because analysis and store code
# written before frontline.errors raises them for user input (InputError and NoVersionError are ValueErrors).
_USER_ERRORS: tuple[type[BaseException], ...] = (FrontlineError, ValueError, FileNotFoundError, FileExistsError)


def guard(store: Literal["read", "write"] | None = None, *, also: tuple[type[BaseException], ...] = ()):
    """Run a command's callback: open its store, turn the errors a user can meet into a message and exit status.

    The one wrapper of every command (put it under the click decorators). The scheme, also in ``frontline
    --help``: an :class:`~frontline.errors.InputError` (its message names the file, record or field), a
    :class:`~frontline.errors.NoVersionError`, a :class:`~frontline.errors.StoreError`, a
    :class:`~frontline.errors.FetchError` (and a plain ``ValueError``, ``FileNotFoundError`` or
    ``FileExistsError`` of older code) print ``Error: <message>`` on stderr and exit
    :data:`EXIT_ERROR` (1); click's usage errors exit :data:`EXIT_USAGE` (2); Ctrl-C prints ``Interrupted.``
    and exits :data:`EXIT_INTERRUPTED` (130); anything else is a bug and keeps its traceback.

    Parameters
    ----------
    store
        ``"read"`` or ``"write"``: the callback's ``store_path`` parameter is opened (read-only for
        ``"read"``) and handed over as its first argument instead, and closed when the command ends. None: the
        callback opens what it needs (with :func:`_open`, after checks that must come first).
    also
        More exception types that mean bad input for this command (e.g. ``GEOSException`` on a drawing
        GEOS cannot take).
    """
    caught = _USER_ERRORS + also

    def deco(f):
        @functools.wraps(f)
        def run(*args, **kwargs):
            try:
                if store is not None:
                    args = (_open(kwargs.pop("store_path"), readonly=store == "read"), *args)
                return f(*args, **kwargs)
            except KeyboardInterrupt:
                click.echo("Interrupted.", err=True)
                raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
            except click.ClickException:
                raise
            except caught as exc:
                raise click.ClickException(str(exc)) from None

        return run

    return deco


def _open(store_path, readonly: bool = False):
    """The store at ``store_path`` (default ``$FRONTLINE_STORE`` or ``./frontline.gpkg``), closed with the command.

    Raises
    ------
    StoreError
        When there is no store there or the file is not a Frontline store.
    """
    from ..state import as_known
    from ..store import open_store

    try:
        st = open_store(store_path, readonly=readonly)
    except (FileNotFoundError, ValueError) as exc:
        raise StoreError(str(exc)) from None
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(st.close)
    return as_known(st)  # --as-known-at: every question of versions is answered as known then


def _print_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _table(rows: list[dict], columns: list[str], title: str | None = None, caption: str | None = None) -> None:
    """Print rows as a table (rich's look: heavy head, light body); numeric columns right-aligned.

    Drawn here, not by rich, when it fits the terminal as it is, or at any
    width when piped (rich takes ~5 ms a row: a 1,359-row series would take
    seconds, and it squeezes wide columns into ``gained_ua_k…`` for a pipe);
    rich draws the rest (columns to wrap on a terminal, markup in a cell).
    """
    right = [c.endswith(("km2", "share", "net")) or "km2" in c for c in columns]
    cells = [
        ["" if r.get(c) is None else (f"{r[c]:,.1f}" if isinstance(r.get(c), float) else str(r[c])) for c in columns]
        for r in rows
    ]
    # piped (a file, less, CI logs): drawn whole at any width; on a terminal, rich wraps what does not fit
    width = console.width if sys.stdout.isatty() else 10**6
    lines = _plain_table(columns, cells, right, title, caption, width)
    if lines is not None:
        click.echo("\n".join(lines))
        return
    from rich.table import Table

    t = Table(title=title, caption=caption, header_style="bold")
    for c, r in zip(columns, right, strict=True):
        t.add_column(c, justify="right" if r else "left")
    for row in cells:
        t.add_row(*row)
    console.print(t)


def _plain_table(
    columns: list[str], cells: list[list[str]], right: list[bool], title, caption, width: int
) -> list[str] | None:
    """The lines of a table as rich draws it unwrapped; None when rich must draw it (too wide, markup, tabs)."""
    import textwrap

    if any("[" in x or "\t" in x or "\n" in x or not x.isascii() and _wide(x) for row in cells for x in row):
        return None
    widths = [max([len(c), *(len(row[k]) for row in cells)]) for k, c in enumerate(columns)]
    total = sum(widths) + 3 * len(widths) + 1
    if total > width:
        return None

    def line(values: list[str], bar: str, on: str = "", off: str = "") -> str:
        padded = (v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True))
        return bar + bar.join(f" {on}{v}{off} " for v in padded) + bar

    def rule(left: str, mid: str, end: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + end

    bold = ("\x1b[1m", "\x1b[0m") if sys.stdout.isatty() else ("", "")  # rich's bold head on a terminal

    def centred(text: str) -> str:  # as rich centres: the odd space on the right (str.center may put it left)
        left = (total - len(text)) // 2
        return " " * left + text + " " * (total - len(text) - left)

    out = [centred(t) for t in textwrap.wrap(title or "", total)]
    out.append(rule("┏", "┳", "┓", "━"))
    out.append(line(columns, "┃", *bold))
    out.append(rule("┡", "╇", "┩", "━"))
    out += [line(row, "│") for row in cells]
    out.append(rule("└", "┴", "┘", "─"))
    out += [centred(t) for t in textwrap.wrap(caption or "", total)]
    return out


def _wide(text: str) -> bool:
    """Whether ``text`` has characters a terminal draws two columns wide (CJK, emoji)."""
    import unicodedata

    return any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in text)
