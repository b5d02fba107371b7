"""The CLI's one command wrapper: errors a user can meet become a message and an exit status, never a traceback."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from frontline.cli import main
from frontline.cli._common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, STORE_OPT, guard
from frontline.errors import FetchError, InputError, NoVersionError, StoreError


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _no_traceback(r) -> None:
    assert "Traceback" not in r.output and not isinstance(r.exception, Exception | KeyboardInterrupt), r.exception


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    from frontline.store import init_store

    st = init_store(tmp_path_factory.mktemp("empty") / "empty.gpkg")
    st.close()
    return st.path


def test_a_missing_store_is_named_exit_1(tmp_path):
    missing = tmp_path / "nowhere.gpkg"
    for args in (("list",), ("area", "--at", "2025-03-01"), ("claims", "list"), ("roads", "exposure", "--side", "ua")):
        r = cli(*args, "--store", missing)
        assert r.exit_code == EXIT_ERROR, (args, r.output)
        assert f"Error: No store at {missing}" in r.stderr and "frontline init" in r.stderr
        _no_traceback(r)
    assert not missing.exists()  # reading never creates a store


def test_a_file_that_is_not_a_store(tmp_path):
    bad = tmp_path / "junk.gpkg"
    bad.write_bytes(b"not a database at all" * 100)
    r = cli("list", "--store", bad)
    assert r.exit_code == EXIT_ERROR and "is not a Frontline store" in r.stderr
    _no_traceback(r)


def test_no_version_and_bad_input_exit_1_with_the_reason(empty_store, tmp_path):
    r = cli("show", "--store", empty_store)
    assert r.exit_code == EXIT_ERROR and "The store holds no versions yet" in r.stderr
    _no_traceback(r)
    r = cli("area", "--store", empty_store, "--at", "2025-03-01", "--from", "2025-01-01")
    assert r.exit_code == EXIT_ERROR and "Give either --at or --from/--to/--every, not both." in r.stderr
    _no_traceback(r)
    r = cli("settlements", "status", "--store", empty_store, "--near", "35.2;51.1")
    assert r.exit_code == EXIT_ERROR and "holds no settlements" in r.stderr
    r = cli("claims", "history", "--store", empty_store, "7")
    assert r.exit_code == EXIT_ERROR and "No claim 7 in the ledger." in r.stderr
    # an InputError names where and which field
    add = "claims add --claimant X --time 2025-01-01 --side xx --settlement Sudzha --change taken".split()
    r = cli(*add, "--store", empty_store)
    assert r.exit_code == EXIT_ERROR and "Error: command line: field 'side': 'xx' is not one of" in r.stderr
    _no_traceback(r)


def test_the_command_line_itself_wrong_exit_2(empty_store):
    r = cli("area", "--store", empty_store, "--every", "year")
    assert r.exit_code == EXIT_USAGE and "Invalid value for '--every'" in r.stderr
    r = cli("import", "--store", empty_store)
    assert r.exit_code == EXIT_USAGE and "Give a PATH to import or --url." in r.stderr


def test_help_lists_the_exit_statuses():
    out = cli("--help").output
    assert "Exit status:" in out and "130" in out and "interrupted" in out


def _command(exc: BaseException, store=None):
    @click.command()
    @STORE_OPT
    @guard(store=store)
    def cmd(*args, **kwargs):
        if store is not None:
            assert args and args[0].readonly == (store == "read")
        raise exc

    return cmd


@pytest.mark.parametrize(
    "exc, code, text",
    [
        (
            InputError("must be a number", where="claims.csv line 3", field="value"),
            EXIT_ERROR,
            "Error: claims.csv line 3: field 'value': must be a number",
        ),
        (NoVersionError("No version of deepstate at 2020-01-01."), EXIT_ERROR, "Error: No version of deepstate"),
        (StoreError("store.gpkg is read-only."), EXIT_ERROR, "Error: store.gpkg is read-only."),
        (FetchError("https://x.test/api: HTTP 503 after 4 retries"), EXIT_ERROR, "Error: https://x.test/api: HTTP 503"),
        (ValueError("an older module's message"), EXIT_ERROR, "Error: an older module's message"),
        (KeyboardInterrupt(), EXIT_INTERRUPTED, "Interrupted."),
    ],
)
def test_guard_maps_each_error(exc, code, text):
    r = CliRunner().invoke(_command(exc), [])
    assert r.exit_code == code, r.output
    assert text in r.stderr and r.stdout == ""
    _no_traceback(r)


def test_guard_opens_the_store_read_only_or_writable(empty_store):
    for mode in ("read", "write"):
        r = CliRunner().invoke(_command(InputError("done"), store=mode), ["--store", str(empty_store)])
        assert r.exit_code == EXIT_ERROR and "Error: done" in r.stderr, r.output


def test_anything_else_is_a_bug_and_keeps_its_traceback():
    r = CliRunner().invoke(_command(ZeroDivisionError("oops")), [])
    assert r.exit_code == 1 and isinstance(r.exception, ZeroDivisionError)
