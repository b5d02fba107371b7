"""Frontline: versioned front-line maps as data you can query, measure and show."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from .notebook import Notebook

__version__ = "0.1.0"


def open(path: Path | str | None = None, source: str | None = None) -> Notebook:
    """Open a store read-only for notebooks: ``st = frontline.open("frontline.gpkg")``.

    Parameters
    ----------
    path
        The store; ``$FRONTLINE_STORE`` or ``./frontline.gpkg`` when None.
    source
        Source name; the store's default source when None.

    Returns
    -------
    frontline.notebook.Notebook
        ``versions()``, ``state(at)``, ``area_series(…)``, ``change(t1, t2)``, ``contact_line(at)``,
        ``corridors(at, side)``, ``settlements(at)`` (docs/python.md).
    """
    # the one import from the package root to the apps layer, made on call so `import frontline` stays light
    from .notebook import open_notebook

    return open_notebook(path, source)
