"""``frontline animate``: one frame per period of the demo store, as GIF (Pillow) and MP4 (ffprobe)."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from frontline.cli import main

pytest.importorskip("matplotlib")
needs_ffmpeg = pytest.mark.skipif(
    not (shutil.which("ffmpeg") and shutil.which("ffprobe")), reason="ffmpeg/ffprobe not installed"
)


def run(*args, ok=True):
    res = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def animate(store, out, *extra) -> dict:
    return json.loads(run("animate", "--store", store.path, "--every", "day", "--out", out, "--json", *extra).output)


def test_gif_has_one_frame_per_version_with_increasing_dates(demo_store, tmp_path):
    from PIL import Image

    out = tmp_path / "demo.gif"
    got = animate(demo_store, out, "--region", "outside:ua", "--side", "ua")
    frames = got["frames"]
    versions = demo_store.versions()
    assert [f["version_id"] for f in frames] == [v.version_id for v in versions]  # one a day: every version
    times = [f["t"] for f in frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(f["areas_km2"]["ua"] is not None for f in frames)
    with Image.open(out) as im:
        assert im.n_frames == len(versions)
        w, h = im.size
        assert w % 2 == 0 and h % 2 == 0
        pixels = []
        for i in range(im.n_frames):
            im.seek(i)
            pixels.append(np.asarray(im.convert("RGB")))
    # each frame differs from the one before (its ground, date stamp and curve move)
    assert all((a != b).any() for a, b in zip(pixels, pixels[1:]))


def test_frames_are_the_last_version_of_each_week(demo_store, tmp_path):
    from frontline.report.animate import frame_versions
    from frontline.times import last_per_period

    vs = demo_store.versions()
    got = frame_versions(demo_store, None, None, "month")
    assert [v.version_id for v in got] == [v.version_id for v in last_per_period(vs, "month").values()]


def test_stamp_shows_the_frame_date(demo_store):
    """The date is drawn into each frame: the stamp's text is the frame's date."""
    from frontline.report.animate import MapCanvas, gather_frames

    vs = demo_store.versions()[:2]
    frames, extent = gather_frames(demo_store, vs, region="outside:ua", side="ua")
    canvas = MapCanvas(extent, list(demo_store.sides), "ua", (320, 400), frames)
    try:
        a = canvas.draw(frames[0], 0)
        assert canvas.stamp.get_text() == frames[0].time[:10]
        b = canvas.draw(frames[1], 1)
        assert canvas.stamp.get_text() == frames[1].time[:10]
    finally:
        canvas.close()
    assert a.shape == b.shape == (400, 320, 3)
    assert len(np.unique(a.reshape(-1, 3), axis=0)) >= 3


@needs_ffmpeg
def test_mp4_plays_with_the_expected_frame_count(demo_store, tmp_path):
    out = tmp_path / "demo.mp4"
    got = animate(demo_store, out, "--width", "640")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames,width,height,pix_fmt,codec_name", "-of", "json", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    assert int(stream["nb_read_frames"]) == len(got["frames"]) == len(demo_store.versions())
    assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
    assert stream["width"] == 640 and stream["height"] % 2 == 0


def test_animate_refuses_bad_input(demo_store, tmp_path):
    res = run("animate", "--store", demo_store.path, "--out", tmp_path / "a.avi", ok=False)
    assert res.exit_code == 1 and ".gif or .mp4" in res.output
    res = run("animate", "--store", demo_store.path, "--from", "2025-03-01", "--to", "2025-01-01",
              "--out", tmp_path / "a.gif", ok=False)  # fmt: skip
    assert res.exit_code == 1 and "after" in res.output
    res = run("animate", "--store", demo_store.path, "--from", "2030-01-01", "--out", tmp_path / "a.gif", ok=False)
    assert res.exit_code == 1 and "no version" in res.output
    res = run("animate", "--store", demo_store.path, "--width", "5000", "--out", tmp_path / "a.gif", ok=False)
    assert res.exit_code == 1 and "width" in res.output
