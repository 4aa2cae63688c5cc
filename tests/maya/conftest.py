"""The mayapy lane: tests that need a real Maya, run through its ``mayapy``.

pytest itself runs under the project's Python; each test hands a short script to
``mayapy`` (found as ``$MAYAPY`` or on ``PATH``) with this checkout on ``PYTHONPATH`` and
its ``plugin/`` and ``nodes/`` on ``MAYA_PLUG_IN_PATH``. Without a mayapy every test
here is skipped. mayapy needs the package's dependencies (torch, numpy, ...) installed:
see the README's Maya section. Run the lane with one command:

    MAYAPY=/usr/autodesk/maya2025/bin/mayapy make test-maya
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.helpers.cli import REPO

MAYAPY_ENV = "MAYAPY"
PROLOGUE = """\
import maya.standalone
maya.standalone.initialize(name="python")
from maya import cmds
"""


def find_mayapy() -> str | None:
    """``$MAYAPY`` if it names a program, else ``mayapy`` on ``PATH``, else None."""
    chosen = os.environ.get(MAYAPY_ENV)
    if chosen:
        return chosen if Path(chosen).is_file() else shutil.which(chosen)
    return shutil.which("mayapy")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``mayapy``; skip them all when no mayapy is found."""
    here = Path(__file__).parent
    missing = find_mayapy() is None
    skip = pytest.mark.skip(reason=f"no mayapy: set ${MAYAPY_ENV} or put mayapy on PATH")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.mayapy)
            if missing:
                item.add_marker(skip)


def maya_env() -> dict[str, str]:
    """The environment mayapy runs in: this checkout importable, its plug-ins findable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["MAYA_PLUG_IN_PATH"] = os.pathsep.join(
        filter(None, [str(REPO / "plugin"), str(REPO / "nodes"), env.get("MAYA_PLUG_IN_PATH")]))
    env.setdefault("MAYA_DISABLE_CIP", "1")  # no usage-report network calls from a test
    return env


@pytest.fixture
def mayapy() -> str:
    found = find_mayapy()
    assert found is not None  # skipped otherwise
    return found


@pytest.fixture
def run_maya(mayapy, tmp_path):
    """Run a Python snippet in mayapy after ``maya.standalone.initialize``; returns the process.

    The snippet may print lines starting ``RESULT `` for the test to read.
    """
    def run(body: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        script = tmp_path / f"maya_snippet_{len(list(tmp_path.glob('maya_snippet_*')))}.py"
        script.write_text(PROLOGUE + textwrap.dedent(body) + "\nmaya.standalone.uninitialize()\n",
                          encoding="utf-8")
        return subprocess.run([mayapy, str(script)], capture_output=True, text=True, env=maya_env(),
                              cwd=tmp_path, timeout=timeout)

    return run


@pytest.fixture
def run_script_in_maya(mayapy):
    """Run ``standalone/<script>`` under mayapy, as a farm task does."""
    def run(script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([mayapy, str(REPO / "standalone" / script), *args], capture_output=True,
                              text=True, env=maya_env(), timeout=timeout)

    return run


def results(output: str) -> list[str]:
    """The ``RESULT ...`` lines a snippet printed, without the prefix."""
    return [line[len("RESULT "):] for line in output.splitlines() if line.startswith("RESULT ")]
