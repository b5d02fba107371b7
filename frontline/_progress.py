"""Progress bars and tables for the terminal (rich), quiet when not wanted."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@lru_cache(maxsize=1)
def _err_console() -> Console:
    """The stderr console, made on first use (rich loads only when something is drawn)."""
    from rich.console import Console

    return Console(stderr=True)


def __getattr__(name: str) -> Any:
    """``err_console``: the shared stderr :class:`rich.console.Console`, made when first asked for (PEP 562)."""
    if name == "err_console":
        return _err_console()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextmanager
def progress_bar(total: int | None, label: str, enabled: bool = True):
    """Yield an ``advance()`` callable; draws a bar on stderr when enabled and a terminal."""
    if not enabled:
        yield lambda n=1: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    cols = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    if total:
        cols.append(TimeRemainingColumn())
    with Progress(*cols, console=_err_console(), transient=not sys.stderr.isatty()) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n=1: prog.advance(task, n)
