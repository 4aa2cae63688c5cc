"""'openpipeline browse --screenshot': the window drawn once loaded, offscreen and under Xvfb."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from openpipeline.core import ItemRef, Project, versions
from tests.helpers.cli import REPO, one_sentence, run_cli
from tests.helpers.files import maya_scene

pytest.importorskip("Qt", reason="the browser needs Qt (pip install 'openpipeline[ui]')")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _project(tmp_path) -> Project:
    project = Project.create(tmp_path / "proj", "shots")
    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    versions.save_workshop(item, maya_scene(tmp_path / "w.ma"), note="blocking")
    versions.master(item, note="approved")
    project.create_item(ItemRef.parse("shot/sq010/sh010"))
    project.create_item(ItemRef.parse("shot/sq010/sh010/anim"))
    return project


def test_browse_writes_a_screenshot_once_loaded(tmp_path):
    """--screenshot writes a PNG of the loaded window and exits 0 (offscreen)."""
    project = _project(tmp_path)
    out = tmp_path / "shot.png"
    result = run_cli("--project", str(project.root), "browse", "--screenshot", str(out),
                     "--select", "asset/prop/chair", env={"QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 5000


def test_browse_screenshots_the_project_manager(tmp_path):
    """--tab projects writes the Project Manager dialog."""
    project = _project(tmp_path)
    out = tmp_path / "projects.png"
    result = run_cli("--project", str(project.root), "browse", "--tab", "projects", "--screenshot",
                     str(out), env={"QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_browse_refuses_an_unknown_item_in_one_sentence(tmp_path):
    """--select of an item that is not there is a user error, one sentence, exit 2."""
    project = _project(tmp_path)
    result = run_cli("--project", str(project.root), "browse", "--screenshot", str(tmp_path / "x.png"),
                     "--select", "asset/prop/sofa", env={"QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 2
    assert "asset/prop/sofa" in one_sentence(
        "\n".join(line for line in result.stderr.splitlines() if "propagateSizeHints" not in line))
    assert not (tmp_path / "x.png").exists()


@pytest.mark.xvfb
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run is not installed (Debian: xvfb)")
def test_browse_as_a_real_window_under_xvfb(tmp_path):
    """Under Xvfb (the xcb platform, a real X window) the browser draws and screenshots."""
    project = _project(tmp_path)
    out = tmp_path / "xvfb.png"
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1280x900x24", sys.executable, "-m", "openpipeline",
         "--project", str(project.root), "browse", "--tab", "shot", "--screenshot", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "xcb"})
    if 'Could not load the Qt platform plugin "xcb"' in result.stderr:
        pytest.skip("Qt's xcb plugin lacks its libraries (Debian: libxcb-cursor0)")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 5000
