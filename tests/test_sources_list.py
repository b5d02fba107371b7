"""``--source`` on every read command, and the store's list of sources with licence and attribution.

The store is the generated pair of ``tests/test_compare.py`` (``alpha`` and ``beta``; a strip ``ru`` in alpha,
grey in beta); expected km² are geodesic areas of its boxes worked out with pyproj, not the code's output.
"""

from __future__ import annotations

import json
import sqlite3

import click
import pytest
from click.testing import CliRunner
from test_compare import STRIP, km2
from test_compare import store as store  # noqa: F401  (the generated pair, built once for this module too)

from frontline.cli import main

# Every command that reads the map (by `frontline --help`); each must take --source.
READ_COMMANDS = [
    "animate",
    "area",
    "change",
    "claims check",
    "contact-line",
    "corridors",
    "diff-revisions",
    "export",
    "list",
    "report",
    "roads exposure",
    "roads last-out",
    "settlements changed",
    "settlements status",
    "show",
    "tak cot",
    "tak package",
]


def _command(path: str) -> click.Command:
    cmd: click.Command = main
    for word in path.split():
        assert isinstance(cmd, click.Group), path
        cmd = cmd.commands[word]
    return cmd


def _run(args):
    return CliRunner().invoke(main, args)


def _copy(store, dest) -> str:
    """A copy of the module's store to write to (the shared one stays as built)."""
    src, dst = sqlite3.connect(store), sqlite3.connect(dest)
    src.backup(dst)
    src.close()
    dst.close()
    return str(dest)


def _json(args):
    r = _run(args)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.mark.parametrize("path", READ_COMMANDS)
def test_every_read_command_takes_source(path):
    r = _run([*path.split(), "--help"])
    assert r.exit_code == 0, r.output
    assert "--source" in r.output


def test_the_list_of_read_commands_is_complete():
    """A new command with --at/--from reads the map: it must be in READ_COMMANDS (compare takes A B instead)."""

    def walk(group, prefix):
        for name, c in group.commands.items():
            if isinstance(c, click.Group):
                yield from walk(c, [*prefix, name])
            else:
                yield " ".join([*prefix, name]), c

    timed = {p for p, c in walk(main, []) if {"--at", "--from"} & {o for q in c.params for o in getattr(q, "opts", [])}}
    assert timed - {"compare", "recompute"} <= set(READ_COMMANDS)


UNKNOWN_SOURCE_RUNS = [
    ["area", "--at", "2025-03-05"],
    ["change", "--from", "2025-03-01", "--to", "2025-03-05"],
    ["contact-line", "--at", "2025-03-05"],
    ["corridors", "--at", "2025-03-05", "--side", "ru"],
    ["list"],
    ["show", "--at", "2025-03-05"],
    ["settlements", "status", "--at", "2025-03-05"],
    ["settlements", "changed", "--from", "2025-03-01", "--to", "2025-03-05"],
]


@pytest.mark.parametrize("args", UNKNOWN_SOURCE_RUNS, ids=lambda a: " ".join(a[:2]))
def test_an_unknown_source_is_named(store, args, tmp_path):  # noqa: F811
    r = _run([*args, "--source", "gamma", "--store", store])
    assert r.exit_code == 1, r.output
    assert "gamma" in r.output and "Traceback" not in r.output


def test_export_with_unknown_source_is_named(store, tmp_path):  # noqa: F811
    r = _run(["export", "--at", "2025-03-05", "--source", "gamma", str(tmp_path / "x.geojson"), "--store", store])
    assert r.exit_code == 1 and "gamma" in r.output


def test_area_reads_the_source_asked_for(store):  # noqa: F811
    def ru(source):
        rows = _json(["area", "--at", "2025-03-05", "--source", source, "--store", store, "--json"])
        row = rows[0] if isinstance(rows, list) else rows
        return row["ru_km2"]

    assert ru("alpha") - ru("beta") == pytest.approx(km2(STRIP), rel=2e-3)


def test_list_reads_the_source_asked_for(store):  # noqa: F811
    rows = _json(["list", "--source", "beta", "--store", store, "--json"])
    assert len(rows) == 5
    r = _run(["list", "--source", "beta", "--store", store])
    assert "versions of beta" in r.output and "Data: beta:" in r.output


def test_sources_list_and_set(store, tmp_path):  # noqa: F811
    from frontline.store.source_info import KNOWN

    path = _copy(store, tmp_path / "copy.gpkg")
    rows = {r["name"]: r for r in _json(["sources", "list", "--store", path, "--json"])}
    assert set(rows) >= {"alpha", "beta"}
    assert rows["alpha"]["recorded"] is False and rows["alpha"]["attribution"] == ""
    assert rows["beta"]["versions"] == 5 and rows["beta"]["last"] == "2025-03-05T12:00:00Z"

    r = _run(["sources", "set", "beta", "--licence", "CC BY 4.0", "--attribution", "Beta team", "--store", path])
    assert r.exit_code == 0, r.output
    r = _run(["sources", "set", "beta", "--url", "https://example.org/beta", "--store", path])
    assert r.exit_code == 0, r.output
    beta = {r["name"]: r for r in _json(["sources", "list", "--store", path, "--json"])}["beta"]
    assert (beta["licence"], beta["attribution"], beta["url"]) == ("CC BY 4.0", "Beta team", "https://example.org/beta")
    assert beta["recorded"] is True and beta["added_at"]

    # the bare command is the list, as a table; the compare table ends with both attributions
    r = _run(["sources", "--store", path])
    assert r.exit_code == 0 and "Beta team" in r.output and "alpha" in r.output
    r = _run(["compare", "alpha", "beta", "--at", "2025-03-05", "--store", path])
    assert r.exit_code == 0, r.output
    assert "beta: Beta team; licence: CC BY 4.0" in " ".join(r.output.split())

    r = _run(["sources", "set", "beta", "--store", path])
    assert r.exit_code == 1 and "Nothing to set" in r.output

    # a source known by name answers its defaults before any entry is recorded
    assert "redistribut" in KNOWN["deepstate"]["licence"]


def test_record_default_never_replaces_a_users_text(store, tmp_path):  # noqa: F811
    from frontline.store import open_store
    from frontline.store.source_info import record_default, set_source_info, source_info

    path = _copy(store, tmp_path / "copy2.gpkg")
    st = open_store(path)
    try:
        assert record_default(st, "alpha", attribution="from the importer") is True
        assert source_info(st, "alpha")["attribution"] == "from the importer"
        set_source_info(st, "alpha", attribution="the user's")
        assert record_default(st, "alpha", attribution="again") is False
        assert source_info(st, "alpha")["attribution"] == "the user's"
        with pytest.raises(ValueError, match="colour"):
            set_source_info(st, "alpha", colour="red")
    finally:
        st.close()
