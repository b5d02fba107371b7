"""Build a report end to end: gather the numbers, draw the figures, write HTML or PDF."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .facts import ReportFacts, gather

FORMATS = (".html", ".htm", ".pdf")


def report_html(facts: ReportFacts, sides: list[str]) -> str:
    """The self-contained HTML of gathered facts (map and chart as inline PNG)."""
    from .document import render_html
    from .figures import area_figure, map_figure, png_data_uri

    return render_html(facts, png_data_uri(map_figure(facts, sides)), png_data_uri(area_figure(facts, sides)))


def write_report(store, out: str | Path, at=None, since=None, **options) -> tuple[Path, ReportFacts]:
    """Write the report of a region at ``at`` to ``out`` (``.html`` or ``.pdf``, chosen by its suffix).

    Parameters
    ----------
    store
        An open store.
    out
        Output file; its suffix picks the format.
    at, since
        Times, as for :func:`frontline.report.facts.gather`.
    **options
        ``region``, ``side``, ``bbox``, ``source``: as for :func:`frontline.report.facts.gather`.

    Returns
    -------
    (path, facts)
        The file written and the numbers it shows.
    """
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise InputError(f"{out.name}: the report is written as .html or .pdf", field="--out")
    facts = gather(store, at, since, **options)
    html = report_html(facts, list(store.sides))
    if out.suffix.lower() == ".pdf":
        from .pdf import html_to_pdf

        html_to_pdf(html, out)
    else:
        out.write_text(html, encoding="utf-8")
    return out, facts
