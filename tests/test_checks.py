"""The checks a newcomer gets for free: ruff (lint and format) and mypy pass on the package.

Run by the README's test command, so CI fails on a lint, format or type error
the same way it fails on a broken test. Each check prints what it found.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess:
    tool = BIN / cmd[0]
    if not tool.exists():
        pytest.fail(f"{cmd[0]} is not installed in the test environment: run `bash scripts/setup.sh`.")
    return subprocess.run([str(tool), *cmd[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "args",
    [("check", "frontline", "tests", "bench"), ("format", "--check", "frontline", "tests", "bench")],
    ids=["lint", "format"],
)
def test_ruff(args):
    r = _run("ruff", *args)
    assert r.returncode == 0, f"ruff {' '.join(args)} found problems:\n{r.stdout}{r.stderr}"


def test_mypy(tmp_path):
    r = _run("mypy", "--cache-dir", str(tmp_path / "mypy-cache"))
    assert r.returncode == 0, f"mypy found type errors:\n{r.stdout}{r.stderr}"
    assert "Success" in r.stdout
