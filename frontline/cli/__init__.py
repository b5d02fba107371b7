"""``frontline``: the command line, one module per command.

Every command takes ``--store`` (or ``$FRONTLINE_STORE``; default
``./frontline.gpkg``). Commands that print tables take ``--json`` (and some
``--csv``) for scripts; their field names are stable.

Each public module of this package defines its command(s) with
``@click.command`` (or ``@click.group``); :func:`_register` adds every
top-level command it finds (not the subcommands of its groups), so a new
command is a new file. Each callback runs under :func:`._common.guard`, which
opens its store and turns the errors a user can meet into a message on
stderr and an exit status (listed in ``frontline --help``).
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from ._common import EXIT_STATUS_HELP


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=EXIT_STATUS_HELP
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


def _register() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        cmds = [o for o in vars(mod).values() if isinstance(o, click.Command) and o is not main]
        # Subcommands attached to a group of the module belong to that group, not to `frontline`.
        nested = {id(sub) for o in cmds if isinstance(o, click.Group) for sub in _walk(o)}
        for obj in cmds:
            if id(obj) not in nested:
                main.add_command(obj)


def _walk(group: click.Group):
    for sub in group.commands.values():
        yield sub
        if isinstance(sub, click.Group):
            yield from _walk(sub)


_register()
