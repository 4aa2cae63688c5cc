"""Shared fixtures: every test gets its own user config folder and author name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openpipeline.core import ItemRef, Project

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_user(tmp_path_factory, monkeypatch):
    config = tmp_path_factory.mktemp("user-config")
    monkeypatch.setenv("OPENPIPELINE_CONFIG_DIR", str(config))
    monkeypatch.setenv("OPENPIPELINE_USER", "tester")
    monkeypatch.delenv("OPENPIPELINE_PROJECT", raising=False)
    monkeypatch.delenv("OPENPIPELINE_FAULT", raising=False)
    return config


@pytest.fixture
def project(tmp_path) -> Project:
    return Project.create(tmp_path / "proj", "demo")


def maya_scene(path: Path, body: str = "content", size: int = 0) -> Path:
    """A small file that passes the Maya ASCII header check."""
    text = f"//Maya ASCII 2025 scene\n// {body}\n"
    if size:
        text += (body * (size // max(len(body), 1) + 1))[:size]
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def scene(tmp_path) -> Path:
    return maya_scene(tmp_path / "scene.ma", "first")


@pytest.fixture
def asset(project):
    return project.create_item(ItemRef.parse("asset/prop/chair"))


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file (size, mtime) and folder under root: to prove nothing changed.

    Folder mtimes are left out: a lock file made and removed again touches them.
    """
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            state[str((Path(folder) / name).relative_to(root))] = (-1, 0)
        for name in files:
            path = Path(folder) / name
            st = path.lstat()
            state[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return state


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run the real CLI in a new process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "openpipeline", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd or REPO, timeout=120,
    )


def cli_json(*args: str, env: dict[str, str] | None = None):
    result = run_cli("--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
