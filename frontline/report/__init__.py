"""A situation report of one region at one time, as one self-contained HTML file or a PDF.

:func:`~frontline.report.facts.gather` reads every number from the public analysis functions the CLI
commands use; :mod:`~frontline.report.figures` draws the map and the area chart (matplotlib, no tiles);
:mod:`~frontline.report.document` writes the HTML (images inline) and :mod:`~frontline.report.pdf` renders
the same HTML to PDF with WeasyPrint; :func:`~frontline.report.build.write_report` does it all.
:mod:`~frontline.report.animate` draws the front over time (GIF, MP4) and single map images. Rules and
choices: ``docs/report.md``.
"""

from .build import report_html, write_report
from .facts import ReportFacts, gather

__all__ = ["ReportFacts", "gather", "report_html", "write_report"]
