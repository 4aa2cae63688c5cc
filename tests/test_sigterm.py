"""SIGTERM, what farm managers send to stop a job, leaves no half-written file behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openpipeline.atomic import is_temp_name
from openpipeline.engine.scatter.primitives import plane
from tests.helpers.cli import REPO, one_sentence
from tests.test_scatter_cli import write_obj


def wait_for_temp_file_with_data(folder: Path, process: subprocess.Popen[str]) -> Path:
    """The temporary file the command is writing, once it holds data (not the empty probe)."""
    deadline = time.monotonic() + 100
    while time.monotonic() < deadline and process.poll() is None:
        for path in folder.iterdir():
            try:
                if is_temp_name(path.name) and path.stat().st_size > 0:
                    return path
            except FileNotFoundError:
                continue
        time.sleep(0.002)
    pytest.fail("the result was never seen being written")


@pytest.mark.slow
def test_sigterm_during_the_write_leaves_no_temporary_file(tmp_path):
    """SIGTERM while a large JSON result is written: exit 130, one sentence, no temp file,
    no partial output."""
    mesh = write_obj(plane(divisions=8), tmp_path / "plane.obj")
    out = tmp_path / "points.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "openpipeline", "scatter", str(mesh), str(out), "--count", "30000",
         "--method", "online-ng", "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_temp_file_with_data(tmp_path, process)
        os.kill(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in one_sentence(stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plane.obj"]
