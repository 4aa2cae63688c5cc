"""Collection rules for the whole repository (fixtures live in tests/conftest.py).

The browser's Qt modules cannot be imported where Qt is not installed (the ``ui``
extra); their doctests are then left out instead of failing collection. Their tests
skip themselves (``pytest.importorskip("Qt")``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

QT_FREE = {"__init__.py", "snapshot.py"}


def _qt_importable() -> bool:
    if importlib.util.find_spec("Qt") is None:
        return False
    try:
        import Qt  # noqa: F401  (Qt.py raises ImportError when it finds no binding)
    except ImportError:
        return False
    return True


UI = Path(__file__).parent / "openpipeline" / "ui"
collect_ignore_glob = [] if _qt_importable() else [
    f"openpipeline/ui/{path.name}" for path in sorted(UI.glob("*.py")) if path.name not in QT_FREE]
