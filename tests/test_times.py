"""Times that mean what users think: roles of a bare date, stale answers, empty ranges.

Unit tests of :mod:`frontline.times` and :func:`frontline.state.resolve`, then
the commands on the demo store (weekly versions at 20:00 UTC from 2025-01-06),
driven through click with stdout and stderr apart.
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from frontline.cli import main
from frontline.times import DAY, describe_age, parse_duration, parse_time

D = "2025-01-13"  # a demo version is drawn that day at 20:00 UTC
D0 = int(datetime(2025, 1, 13, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def store(backend_demo_store):
    """The 6-week demo store on each backend (a GeoPackage, then PostGIS)."""
    return backend_demo_store


# -- parse_time ------------------------------------------------------------------------------------
@pytest.mark.parametrize("role,expected", [("start", D0), ("at", D0 + DAY - 1), ("end", D0 + DAY - 1)])
def test_bare_date_by_role(role, expected):
    assert parse_time(D, role=role) == expected
    assert parse_time(f"  {D} ", role=role) == expected
    assert parse_time(date(2025, 1, 13), role=role) == expected


@pytest.mark.parametrize("role", ["at", "start", "end"])
@pytest.mark.parametrize(
    "value,expected",
    [
        ("2025-01-13T00:00:00Z", D0),
        ("2025-01-13T00:00Z", D0),
        ("2025-01-13T02:00:00+02:00", D0),
        ("2025-01-13 00:00:00", D0),  # no zone: UTC
        ("2025-01-13T12:30:15.250Z", D0 + 45015),
        (str(D0), D0),
        (D0, D0),
        (float(D0) + 0.9, D0),
        ("-86400", -86400),
        (datetime(2025, 1, 13), D0),
        (datetime(2025, 1, 13, 1, tzinfo=timezone(timedelta(hours=1))), D0),
    ],
)
def test_timestamps_and_epochs_are_taken_as_given(value, expected, role):
    assert parse_time(value, role=role) == expected


def test_empty_and_errors_name_the_field():
    assert parse_time(None) is None and parse_time("") is None and parse_time("   ") is None
    with pytest.raises(ValueError, match=r"^--from: time 'yesterday' is not ISO-8601"):
        parse_time("yesterday", role="start", name="--from")
    with pytest.raises(ValueError, match="not a valid date"):
        parse_time("2025-02-30")
    with pytest.raises(ValueError, match="out of range"):
        parse_time("99999999999999999999")
    with pytest.raises(ValueError, match="finite"):
        parse_time(float("nan"))
    with pytest.raises(ValueError, match="role must be one of"):
        parse_time(D, role="middle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="boolean"):
        parse_time(True)


def test_area_parse_time_is_the_same_function():
    from frontline.analysis.area import parse_time as area_parse_time

    assert area_parse_time(D) == D0 + DAY - 1  # unchanged meaning for existing callers
    assert area_parse_time(D, role="start") == D0


def test_durations():
    assert parse_duration("7d") == 7 * DAY and parse_duration("36h") == 36 * 3600
    assert parse_duration("90m") == 5400 and parse_duration("2w") == 14 * DAY and parse_duration("1.5") == 1.5 * DAY
    assert parse_duration("off") is None and parse_duration("0") is None and parse_duration(None) is None
    with pytest.raises(ValueError, match="--max-age: 'soon' is not a duration"):
        parse_duration("soon")
    assert describe_age(5 * 3600) == "5 h" and describe_age(7 * DAY) == "7 days"


# -- resolve: the one staleness check ----------------------------------------------------------------
def test_resolve_notes_stale_times(store):
    from frontline.state import StaleTimeError, TimePolicy, resolve, resolve_version

    vs = store.versions()
    last = vs[-1]
    r = resolve(store, last.valid_time)
    assert r.version.pk == last.pk and r.note is None
    # later the same UTC day: still no note; the next day: after the last version
    assert resolve(store, last.valid_time + 3000).note is None
    far = resolve(store, "2031-01-01")
    assert far.version.pk == last.pk and far.note is not None and far.note.after_last
    assert last.version_id in far.note.message and "years earlier" in far.note.message
    # a gap larger than the limit inside the store
    mid = vs[1].valid_time + 3 * DAY
    assert resolve(store, mid).note is None
    gap = resolve(store, mid, policy=TimePolicy(max_age_s=2 * DAY))
    assert gap.note is not None and not gap.note.after_last and gap.version.pk == vs[1].pk
    assert "is 3 days after the version valid then" in gap.note.message
    with pytest.raises(StaleTimeError, match="refused in strict mode"):
        resolve(store, "2031-01-01", policy=TimePolicy(strict=True))
    # resolve_version warns (no reporter set), and still answers
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        assert resolve_version(store, "2031-01-01").pk == last.pk
    assert any("after the last version" in str(w.message) for w in got)
    # role: a bare date as a range start is the version valid at its 00:00
    day = datetime.fromtimestamp(vs[1].valid_time, UTC).strftime("%Y-%m-%d")
    assert resolve(store, day, role="start").version.pk == vs[0].pk
    assert resolve(store, day, role="end").version.pk == vs[1].pk


def test_versions_between_and_its_empty_message(store):
    from frontline.state import EmptyRangeError, versions_between

    vs = store.versions()
    day = datetime.fromtimestamp(vs[1].valid_time, UTC).strftime("%Y-%m-%d")
    assert [v.pk for v in versions_between(store, day, day)] == [vs[1].pk]
    with pytest.raises(EmptyRangeError) as exc:
        versions_between(store, "2025-01-08", "2025-01-09")
    msg = str(exc.value)
    assert msg.startswith("No version of deepstate from 2025-01-08T00:00:00Z to 2025-01-09T23:59:59Z")
    assert vs[0].version_id in msg and vs[1].version_id in msg


# -- the commands ----------------------------------------------------------------------------------
def cli(*args, env=None):
    return CliRunner(env=env).invoke(main, [str(a) for a in args])


def test_from_and_to_the_same_day_include_its_versions(store):
    vs = store.versions()
    r = cli("area", "--store", store.path, "--from", D, "--to", D, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [row["version_id"] for row in rows] == [v.version_id for v in vs if D0 <= v.valid_time < D0 + DAY]
    assert len(rows) == 1
    # --from D keeps D's versions in a longer range too
    r = cli("area", "--store", store.path, "--from", D, "--json")
    assert json.loads(r.stdout)[0]["version_id"] == rows[0]["version_id"]
    # change over that day: the map at its start (the week before) against its end
    r = cli("change", "--store", store.path, "--from", D, "--to", D, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["to"]["version_id"] == rows[0]["version_id"] and out["from"]["version_id"] == vs[0].version_id
    assert r.stderr == ""
    r = cli("change", "--store", store.path, "--from", D, "--to", D, "--every", "day", "--json")
    assert r.exit_code == 0, r.output
    assert [x["version_id"] for x in json.loads(r.stdout)] == [rows[0]["version_id"]]


def test_stale_time_warns_on_stderr_and_strict_refuses(store):
    last = store.versions()[-1]
    r = cli("show", "--store", store.path, "--at", "2031-01-01", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["version_id"] == last.version_id  # stdout stays clean JSON
    assert r.stderr.startswith(
        f"Warning: 2031-01-01T23:59:59Z is after the last version in the store, {last.version_id} of "
    )
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("show", "--store", store.path, "--at", "2031-01-01", "--strict")
    assert r.exit_code == 1 and r.stdout == ""
    assert "refused in strict mode (--strict)" in r.stderr and "Traceback" not in r.output
    # the same day as the last version is fine; so is the latest
    day = datetime.fromtimestamp(last.valid_time, UTC).strftime("%Y-%m-%d")
    for args in (("--at", day, "--strict"), ()):
        r = cli("show", "--store", store.path, *args)
        assert r.exit_code == 0 and r.stderr == "", r.output


def test_max_age_option_and_environment(store, tmp_path):
    vs = store.versions()
    mid = vs[1].valid_time + 3 * DAY
    # Never /dev/null: export replaces its output file, and a test run as root would replace the device.
    out = str(tmp_path / "state.geojson")
    r = cli("export", "--store", store.path, "--at", mid, "--max-age", "2d", out, "--format", "geojson")
    assert r.exit_code == 0, r.output
    assert "the limit is 2 days" in r.stderr and vs[1].version_id in r.stderr
    r = cli("show", "--store", store.path, "--at", mid, "--json", env={"FRONTLINE_MAX_AGE": "36h"})
    assert r.exit_code == 0 and "the limit is 36 h" in r.stderr
    r = cli("show", "--store", store.path, "--at", mid, "--strict", env={"FRONTLINE_MAX_AGE": "36h"})
    assert r.exit_code == 1 and "refused" in r.stderr
    r = cli("show", "--store", store.path, "--at", mid, "--max-age", "off", "--strict")
    assert r.exit_code == 0 and r.stderr == ""
    r = cli("show", "--store", store.path, "--max-age", "soon")
    assert r.exit_code == 2 and "Invalid value for '--max-age'" in r.stderr


def test_empty_range_says_so(store):
    for extra in ((), ("--every", "day")):
        r = cli("change", "--store", store.path, "--from", "2025-01-08", "--to", "2025-01-09", *extra)
        assert r.exit_code == 1, r.output
        assert r.stdout == "" and "Traceback" not in r.output
        assert r.stderr.startswith("Error: No version") and len(r.stderr.strip().splitlines()) == 1


def test_bad_time_names_the_option(store):
    r = cli("area", "--store", store.path, "--from", "last tuesday")
    assert r.exit_code == 2 and "Invalid value for '--from'" in r.stderr and "ISO-8601" in r.stderr


def test_every_time_option_documents_its_meaning():
    """Each --at/--from/--to/--time/--now in every command's --help says what a bare date means."""
    import click

    def walk(cmd, path):
        yield path, cmd
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, path + [name])

    seen = 0
    for path, cmd in walk(main, []):
        for p in cmd.params:
            if isinstance(p, click.Option) and set(p.opts) & {"--at", "--from", "--to", "--time", "--now"}:
                seen += 1
                assert "a date (= its" in (p.help or ""), (path, p.opts)
                assert p.type.name == "TIME", (path, p.opts)
        names = {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
        if names & {"--at", "--from", "--to"}:
            assert {"--max-age", "--strict"} <= names, path
    assert seen >= 15
