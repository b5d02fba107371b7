"""``frontline report``: the PDF renders a real map, and its text carries the numbers the CLI prints.

Each report is checked against the commands a user would run for the same inputs (``area``,
``corridors``, ``roads last-out``, ``settlements changed`` with ``--json``): the PDF's text
(``pdftotext``) must hold their values as the report formats them, and its first page (``pdftoppm``)
must show the map in at least three fill colours.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from frontline.cli import main
from frontline.model import iso

pytest.importorskip("weasyprint")
pytest.importorskip("matplotlib")
needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("pdftotext")),
    reason="poppler-utils (pdftoppm, pdftotext) not installed",
)


def run(*args, ok=True):
    res = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def js(*args):
    return json.loads(run(*args, "--json").output)


def pdf_text(path) -> str:
    """The PDF's text with runs of whitespace made one space (table cells and wrapped lines alike)."""
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    raw = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split()) + " || " + " ".join(raw.stdout.split())


def fill_colours(path, tmp_path) -> int:
    """Distinct colours covering at least 0.5% of the first page each, white left out."""
    from PIL import Image

    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")], check=True
    )
    img = np.asarray(Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(img, axis=0, return_counts=True)
    big = [tuple(c) for c, n in zip(colours, counts) if n >= 0.005 * len(img)]
    return len([c for c in big if min(c) < 245])


def report(store, at, since, out, *extra):
    return js("report", "--store", store, "--at", at, "--since", since, "--out", out, *extra)


def settlements_on_map(store, at, since, extent) -> list[dict]:
    """``frontline settlements changed`` rows whose place lies in the report's map."""
    w, s, e, n = extent
    rows = js("settlements", "changed", "--store", store, "--from", since, "--to", at)["settlements"]
    return [r for r in rows if w <= r["lon"] <= e and s <= r["lat"] <= n]


@needs_poppler
def test_demo_report_pdf_shows_the_cli_numbers(demo_store, tmp_path):
    vs = demo_store.versions()
    at, since = iso(vs[-1].valid_time), iso(vs[-3].valid_time)
    out = tmp_path / "demo.pdf"
    facts = report(demo_store.path, at, since, out, "--region", "outside:ua", "--side", "ua")
    text = pdf_text(out)
    assert fill_colours(out, tmp_path) >= 3

    area = js("area", "--store", demo_store.path, "--at", at, "--region", "outside:ua")[0]
    assert f"ua holds {area['ua_km2']:,.1f} km²" in text
    drawn = js("area", "--store", demo_store.path, "--at", at, "--region", "outside:ua", "--convention", "as_drawn")
    assert f"as drawn: {drawn[0]['ua_km2']:,.1f} km²" in text

    necks = js("corridors", "--store", demo_store.path, "--at", at, "--side", "ua")["necks"]
    narrow = min(necks, key=lambda n: n["width_m"])
    assert f"Narrowest neck: {narrow['width_m']:,.0f} m wide" in text
    assert f"{narrow['cut_off_km2']:,.1f} km²" in text

    road = js("roads", "last-out", "--store", demo_store.path, "--at", at, "--side", "ua")["routes"][0]
    assert f"Last road out: {', '.join(road['roads'])}, {road['length_km']:,.1f} km to home" in text
    for name, km in road["exposed_km"].items():
        assert f"{km:,.1f} km = {road['exposed_share'][name]:.0%}" in text

    changed = settlements_on_map(demo_store.path, at, since, facts["extent"])
    assert changed, "the demo's salient shrinks: some settlement changes hands"
    assert len(facts["settlements"]["changed"]) == len(changed)
    for r in changed:
        c = r["first_change"]
        assert f"{r['name']} {r['from']} {r['to']} {c['valid_time'][:16].replace('T', ' ')} ({c['version_id']})" in text


def test_demo_report_html_is_self_contained(demo_store, tmp_path):
    vs = demo_store.versions()
    out = tmp_path / "demo.html"
    run("report", "--store", demo_store.path, "--at", iso(vs[-1].valid_time), "--out", out)
    html = out.read_text()
    assert html.count("data:image/png;base64,") == 2
    assert "src='http" not in html and 'src="http' not in html and "<link" not in html
    assert "DeepStateMAP" in html and "licence" in html.lower()


def test_report_refuses_bad_input(demo_store, tmp_path):
    res = run("report", "--store", demo_store.path, "--out", tmp_path / "r.txt", ok=False)
    assert res.exit_code == 1 and ".html or .pdf" in res.output
    res = run("report", "--store", demo_store.path, "--bbox", "1,2,3", "--out", tmp_path / "r.html", ok=False)
    assert res.exit_code == 1 and "W,S,E,N" in res.output
    res = run("report", "--store", demo_store.path, "--side", "xx", "--out", tmp_path / "r.html", ok=False)
    assert res.exit_code == 1 and "unknown side" in res.output


def copy_store(store_path, path):
    """A consistent copy of a store (SQLite's backup: the write-ahead log included); the original is not touched."""
    src, dst = sqlite3.connect(store_path), sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    return path


def test_claims_of_the_period_are_listed_with_their_verdict(demo_store, tmp_path):
    vs = demo_store.versions()
    store = copy_store(demo_store.path, tmp_path / "demo.gpkg")
    cut = iso(vs[-2].valid_time + 3600)  # between the last two versions: in the report's period
    run(
        "claims",
        "add",
        "--store",
        store,
        "--claimant",
        "MoD",
        "--time",
        cut,
        "--settlement",
        "Cherkasskoye Porechnoye",
        "--side",
        "ru",
        "--change",
        "taken",
    )
    listed = js("claims", "list", "--store", store)
    out = tmp_path / "claims.pdf"
    facts = report(store, iso(vs[-1].valid_time), iso(vs[-3].valid_time), out)
    assert [c["claim_id"] for c in facts["claims"]["rows"]] == [c["claim_id"] for c in listed]
    text = pdf_text(out) if shutil.which("pdftotext") else ""
    if text:
        c = listed[0]
        assert f"{c['claim_id']} {c['time'][:10]} MoD Cherkasskoye Porechnoye ru taken {c['status']}" in text
    early = report(store, iso(vs[-3].valid_time), iso(vs[-4].valid_time), tmp_path / "early.html")
    assert early["claims"]["rows"] == []  # published after that report's T


@pytest.fixture(scope="module")
def kursk_with_places(kursk, tmp_path_factory):
    """A copy of the Kursk store with the shipped gazetteer imported (the fixture's store stays untouched)."""
    st, _, _ = kursk
    path = copy_store(st.path, tmp_path_factory.mktemp("kursk-report") / "kursk.gpkg")
    run("settlements", "import", "--store", path, "--default")
    return path


@needs_poppler
def test_kursk_report_matches_the_cli(kursk_with_places, tmp_path):
    store, at, since = kursk_with_places, "2025-03-07", "2025-02-28"
    out = tmp_path / "kursk.pdf"
    facts = report(store, at, since, out, "--region", "outside:ua", "--side", "ua")
    text = pdf_text(out)
    assert fill_colours(out, tmp_path) >= 3

    area = js("area", "--store", store, "--at", at, "--region", "outside:ua")[0]
    assert f"ua holds {area['ua_km2']:,.1f} km² in outside:ua" in text
    necks = js("corridors", "--store", store, "--at", at, "--side", "ua")["necks"]
    narrow = min(necks, key=lambda n: n["width_m"])
    assert narrow["width_m"] < 1000  # the Sudzha salient hung on a passage a few hundred metres wide
    assert f"Narrowest neck: {narrow['width_m']:,.0f} m wide" in text
    change = js("change", "--store", store, "--from", since, "--to", at)
    assert f"lost {change['totals']['ua']['lost_km2']:,.1f} km²" in text
    assert "the store holds no roads" in text  # the archive has none; said, not left blank

    changed = settlements_on_map(store, at, since, facts["extent"])
    assert [r["name"] for r in facts["settlements"]["changed"]] == [r["name"] for r in changed]
    for r in changed:
        assert f"{r['name']} {r['from']} {r['to']}" in text
    if not changed:
        assert "No settlement on the map changed hands in the period." in text
