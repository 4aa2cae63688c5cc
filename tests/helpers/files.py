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


def iff_chunk(tag: bytes, data: bytes, wide: bool = False) -> bytes:
    """One IFF chunk as Maya binary writes it, padded to its alignment.

    Narrow (``FOR4`` files): a 4-byte id, a 4-byte big-endian size, 4-byte alignment.
    Wide (``FOR8`` files, Maya 2014 and later): the id padded to 8 bytes, an 8-byte
    big-endian size, 8-byte alignment.
    """
    if wide:
        header = tag + b"\0" * 4 + len(data).to_bytes(8, "big")
        return header + data + b"\0" * (-len(data) % 8)
    return tag + len(data).to_bytes(4, "big") + data + b"\0" * (-len(data) % 4)


def iff_form(form_type: bytes, *children: bytes, wide: bool = False) -> bytes:
    """A ``FOR4`` (or ``FOR8``) form of ``form_type`` holding ``children``."""
    return iff_chunk(b"FOR8" if wide else b"FOR4", form_type + b"".join(children), wide)


def maya_binary_scene(path: Path, body: str = "content", wide: bool = False) -> Path:
    """A small Maya binary file: a ``Maya`` form with a header and one node."""
    chunk = lambda tag, data: iff_chunk(tag, data, wide)  # noqa: E731
    form = lambda kind, *children: iff_form(kind, *children, wide=wide)  # noqa: E731
    head = form(b"HEAD", chunk(b"VERS", b"2025"), chunk(b"FINF", b"application\0maya\0"))
    node = form(b"XFRM", chunk(b"CREA", b"\0" + body.encode() + b"\0"))
    path.write_bytes(form(b"Maya", head, node))
    return path
