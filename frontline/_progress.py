"""Progress bars and tables for the terminal (rich), quiet when not wanted."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

err_console = Console(stderr=True)


@contextmanager
def progress_bar(total: int | None, label: str, enabled: bool = True):
    """Yield an ``advance()`` callable; draws a bar on stderr when enabled and a terminal."""
    if not enabled:
        yield lambda n=1: None
        return
    cols = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    if total:
        cols.append(TimeRemainingColumn())
    with Progress(*cols, console=err_console, transient=not sys.stderr.isatty()) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n=1: prog.advance(task, n)
