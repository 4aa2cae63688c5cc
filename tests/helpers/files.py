"""Scene files that pass the validators, and snapshots that prove nothing on disk changed."""

from __future__ import annotations

import os
from pathlib import Path


def maya_scene(path: Path, body: str = "content", size: int = 0) -> Path:
    """A small Maya ASCII file that passes the scene checks (header, last statement ended)."""
    text = f"//Maya ASCII 2025 scene\n// {body}\n"
    if size:
        text += "// " + (body * (size // max(len(body), 1) + 1))[:size] + "\n"
    text += 'requires maya "2025";\n'
    path.write_text(text, encoding="utf-8")
    return path


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
