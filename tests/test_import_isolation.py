"""Importing openpipeline works where Maya, Qt and torch cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.helpers.cli import REPO

BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = {"maya", "Qt", "PySide2", "PySide6", "shiboken2", "shiboken6", "pymel"}
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked in this test")
            return None
    sys.meta_path.insert(0, Block())
""")


# The browser's Qt modules need Qt by nature; the package itself, its plain-data
# snapshot and everything outside openpipeline.ui must import without it.
QT_FREE_UI = ("openpipeline.ui", "openpipeline.ui.snapshot")


def test_every_module_imports_without_maya_or_qt():
    """All modules of the package but the browser's Qt widgets import with maya and Qt
    unimportable, and load neither."""
    script = BLOCKER + textwrap.dedent(f"""
        import pkgutil, openpipeline
        names = [m.name for m in pkgutil.walk_packages(openpipeline.__path__, "openpipeline.")
                 if not m.name.endswith("__main__")
                 and (not m.name.startswith("openpipeline.ui.") or m.name in {QT_FREE_UI!r})]
        for name in names:
            __import__(name)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not loaded, loaded
        print(len(names))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 15


def test_the_blocker_really_blocks():
    """Guard: the same blocker makes 'import maya' fail."""
    script = BLOCKER + "import maya.cmds\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode != 0 and "blocked in this test" in result.stderr


def test_the_cli_runs_without_maya_or_qt(tmp_path):
    """The command-line tool works with maya and Qt blocked."""
    script = BLOCKER + "import sys\nfrom openpipeline.cli import main\nsys.exit(main(['--version']))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 0 and "openpipeline" in result.stdout


def test_browse_without_qt_is_one_sentence():
    """'openpipeline browse' with Qt missing exits 2 with one sentence naming the extra."""
    script = BLOCKER + "import sys\nfrom openpipeline.cli import main\nsys.exit(main(['browse']))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 2
    assert "needs Qt" in result.stderr and "openpipeline[ui]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
