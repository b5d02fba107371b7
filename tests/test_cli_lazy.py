"""The command line loads lazily: ``frontline --help`` and a command's start import only what they need.

The table of commands (:data:`frontline.cli.COMMANDS`) is checked against the command modules themselves
(every module's top-level click command, found the way the old eager registration found them), and the
start-up path is checked in a fresh interpreter (``sys.modules`` after the call). The table drawn without
rich is compared with rich's own drawing of the same rows.
"""

from __future__ import annotations

import importlib
import io
import json
import pkgutil
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import frontline.cli as cli
from frontline.cli import _common

HEAVY = ("shapely", "numpy", "pyproj", "rich", "fastapi", "pandas", "frontline.analysis", "frontline.store")


def _modules_commands() -> dict[str, tuple[str, str, click.Command]]:
    """``name: (module, attribute, command)`` of every top-level command the modules define."""
    found = {}
    for info in pkgutil.iter_modules(cli.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"frontline.cli.{info.name}")
        cmds = {k: o for k, o in vars(mod).items() if isinstance(o, click.Command) and o is not cli.main}
        nested = set()
        for o in cmds.values():
            if isinstance(o, click.Group):
                stack = list(o.commands.values())
                while stack:
                    sub = stack.pop()
                    nested.add(id(sub))
                    if isinstance(sub, click.Group):
                        stack += list(sub.commands.values())
        for attr, o in cmds.items():
            if id(o) not in nested:
                found[o.name] = (info.name, attr, o)
    return found


def test_table_of_commands_matches_the_modules():
    found = _modules_commands()
    assert set(found) == set(cli.COMMANDS), "a command module and frontline.cli.COMMANDS disagree"
    for name, (module, attr, cmd) in found.items():
        t_module, t_attr, text = cli.COMMANDS[name]
        assert (t_module, t_attr) == (module, attr), name
        for limit in (40, 60, 75, 300):
            assert click.Command(name, help=text).get_short_help_str(limit) == cmd.get_short_help_str(limit), name
        assert not cmd.hidden and not cmd.deprecated, name


def test_group_help_lists_every_command_with_its_short_help():
    out = CliRunner().invoke(cli.main, ["--help"], terminal_width=100)
    assert out.exit_code == 0, out.output
    for name, (_, _, cmd) in _modules_commands().items():
        line = next(x for x in out.output.splitlines() if x.strip().startswith(name + " "))
        # the text as click would shorten it for this width (first words of the help)
        assert line.split(None, 1)[1].rstrip(".")[:20] == cmd.get_short_help_str(80)[:20], name


def _fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints JSON on its last line."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys
from frontline.cli import main
try:
    main({args!r}, standalone_mode=False)
except SystemExit:
    pass
print()
print(json.dumps(sorted(sys.modules)))
"""


def test_help_imports_no_analysis_nor_heavy_packages():
    mods = _fresh(PROBE.format(args=["--help"]))
    heavy = [m for m in mods if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == []
    assert not [m for m in mods if m.startswith("frontline.cli.") and m != "frontline.cli._common"]


def test_a_command_loads_only_its_own_module():
    mods = _fresh(PROBE.format(args=["area", "--help"]))
    assert "frontline.cli.area" in mods
    assert not {"frontline.cli.corridors", "frontline.cli.serve", "frontline.cli.report"} & set(mods)
    assert "fastapi" not in mods and "rich" not in mods


def test_unknown_command_still_suggests_the_nearest():
    r = CliRunner().invoke(cli.main, ["contact-lines"])
    assert r.exit_code == 2 and "Did you mean 'contact-line'?" in r.output


def test_commands_mapping_is_a_mapping():
    cmds = cli.main.commands
    assert "area" in cmds and "nope" not in cmds and len(cmds) == len(cli.COMMANDS)
    assert cmds["area"].name == "area"
    with pytest.raises(KeyError):
        cmds["nope"]
    assert list(cmds) == sorted(cli.COMMANDS)


def _rich(columns, cells, right, title, caption) -> str:
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    t = Table(title=title, caption=caption, header_style="bold")
    for c, r in zip(columns, right, strict=True):
        t.add_column(c, justify="right" if r else "left")
    for row in cells:
        t.add_row(*row)
    Console(file=buf, width=160).print(t)
    return buf.getvalue()


@pytest.mark.parametrize(
    "title,caption",
    [
        ("Area in ukraine (km², geodesic)", "convention: clipped — the partition of the land"),
        ("Odd title x", "even caption"),
        ("A title longer than the table is wide, so that it wraps over two lines or more, like this", None),
        (None, None),
    ],
)
def test_plain_table_is_drawn_as_rich_draws_it(title, caption):
    columns = ["time", "version_id", "ua_km2", "ru_km2", "jump"]
    cells = [
        ["2024-01-01T12:00:00Z", "v1", "1,234.5", "", "*"],
        ["2024-01-08T12:00:00Z", "v22", "1,234,567.2", "3.0", ""],
        ["2024-01-15T12:00:00Z", "Pokrovsk", "0.0", "12.0", ""],
    ]
    right = [False, False, True, True, False]
    lines = _common._plain_table(columns, cells, right, title, caption, 160)
    assert lines is not None
    assert "\n".join(lines) + "\n" == _rich(columns, cells, right, title, caption)


def test_plain_table_leaves_to_rich_what_it_cannot_draw():
    cols, right = ["a", "b"], [False, False]
    assert _common._plain_table(cols, [["x" * 100, "y" * 100]], right, None, None, 160) is None  # too wide
    assert _common._plain_table(cols, [["[bold]x[/]", "y"]], right, None, None, 160) is None  # markup
    assert _common._plain_table(cols, [["東京", "y"]], right, None, None, 160) is None  # wide characters
    assert _common._plain_table(cols, [["Київ", "y"]], right, None, None, 160) is not None  # Cyrillic is narrow
