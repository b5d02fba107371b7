"""Render a report's HTML to PDF with WeasyPrint (CSS paged media, no browser, offline)."""

from __future__ import annotations

import logging
from pathlib import Path


def html_to_pdf(html: str, path: str | Path) -> Path:
    """Write ``html`` (self-contained: inline CSS and data-URI images) as a PDF at ``path``.

    Only ``data:`` URLs are read (WeasyPrint's fetcher limited to that protocol), so a report renders the
    same on a machine with no network and never reaches out.
    """
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: the package is there but Pango is not
        from ..errors import InputError

        raise InputError(
            f"a PDF needs WeasyPrint and Pango ({exc}); write .html instead or install them", field="--out"
        ) from None

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # font-subsetting chatter, not problems
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    path = Path(path)
    HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf(path)
    return path
