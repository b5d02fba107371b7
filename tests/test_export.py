"""``frontline export`` never replaces a file unasked, never touches a device or folder, and fails without harm."""

from __future__ import annotations

import json

from click.testing import CliRunner

from frontline.cli import main


def _export(store_path, out, *extra):
    r = CliRunner().invoke(main, ["export", "--store", store_path, str(out), "--format", "geojson", *extra])
    return r


def test_export_refuses_to_replace_unasked(demo_store, tmp_path):
    out = tmp_path / "state.geojson"
    r = _export(demo_store.path, out)
    assert r.exit_code == 0, r.output
    first = json.loads(out.read_text())
    assert first["features"], "the export wrote no feature"
    out.write_text("keep me")
    r = _export(demo_store.path, out)
    assert r.exit_code == 1 and "pass --overwrite" in r.output and str(out) in r.output
    assert out.read_text() == "keep me"
    r = _export(demo_store.path, out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text()) == first
    assert [p.name for p in tmp_path.iterdir()] == ["state.geojson"], "a temporary file was left behind"


def test_export_never_replaces_what_is_not_a_file(demo_store, tmp_path):
    folder = tmp_path / "looks.geojson"
    folder.mkdir()
    r = _export(demo_store.path, folder, "--overwrite")
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert folder.is_dir()
    link = tmp_path / "link.geojson"
    link.symlink_to("/dev/null")
    r = _export(demo_store.path, link, "--overwrite")
    assert r.exit_code == 1 and "not a regular file" in r.output
    assert link.is_symlink()
