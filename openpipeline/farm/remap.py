"""Paths in a job, rewritten from the submitting machine's OS to the farm's.

A project sets its root per OS (``roots`` in ``openpipeline.yaml``: ``linux``,
``windows``, ``darwin``). A path under one of those roots is moved under the
target OS's root, with that OS's separators, so a Windows workstation submits work
that Linux farm machines read. Pure functions over a mapping: no file is touched.

Example:
    >>> roots = {"windows": "P:\\\\show", "linux": "/mnt/show"}
    >>> remap_path("P:\\\\show\\\\lib\\\\wood.png", roots, "linux")
    '/mnt/show/lib/wood.png'
    >>> remap_path("/mnt/show/lib/wood.png", roots, "windows")
    'P:\\\\show\\\\lib\\\\wood.png'
    >>> remap_path("/elsewhere/x.png", roots, "windows")
    '/elsewhere/x.png'
"""

from __future__ import annotations

import ntpath
from collections.abc import Mapping
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from openpipeline.core.errors import UserError

PLATFORMS = ("linux", "windows", "darwin")


def _parts_under(path: str, root: str, platform: str) -> tuple[str, ...] | None:
    """The parts of ``path`` below ``root`` (a root of ``platform``), or None when it is not under it."""
    if platform == "windows":
        if not ntpath.isabs(path) and not path.startswith("\\\\"):
            return None
        p, r = PureWindowsPath(path), PureWindowsPath(root)
        # Windows paths compare without case, as the file system does
        p_parts, r_parts = [s.lower() for s in p.parts], [s.lower() for s in r.parts]
        parts = p.parts
    else:
        if not path.startswith("/"):
            return None
        posix, posix_root = PurePosixPath(path), PurePosixPath(root)
        p_parts, r_parts = list(posix.parts), list(posix_root.parts)
        parts = posix.parts
    if len(p_parts) < len(r_parts) or p_parts[: len(r_parts)] != r_parts:
        return None
    return tuple(parts[len(r_parts):])


def remap_path(path: str, roots: Mapping[str, str], target: str) -> str:
    """``path`` moved from whichever OS root holds it to ``target``'s root; unchanged when no
    root holds it (or the project has no root for ``target``).

    The longest matching root wins, so nested roots resolve to the most specific one.
    """
    if target not in PLATFORMS:
        raise UserError(f"Unknown farm OS '{target}'; use {', '.join(PLATFORMS)}.")
    destination = roots.get(target)
    if destination is None:
        return path
    best: tuple[int, tuple[str, ...]] | None = None
    for platform, root in roots.items():
        parts = _parts_under(path, root, platform)
        if parts is not None and (best is None or len(root) > best[0]):
            best = (len(root), parts)
    if best is None:
        return path
    flavour = PureWindowsPath if target == "windows" else PurePosixPath
    return str(flavour(destination).joinpath(*best[1]))


PATH_FIELDS = frozenset({"source", "mask", "guide", "mesh", "density", "output", "cache", "project",
                         "file"})


def remap_fields(data: Any, roots: Mapping[str, str], target: str) -> Any:
    """A copy of a job's JSON data with every path field (:data:`PATH_FIELDS`) remapped."""
    if isinstance(data, dict):
        return {key: (remap_path(value, roots, target) if key in PATH_FIELDS and isinstance(value, str)
                      else remap_fields(value, roots, target))
                for key, value in data.items()}
    if isinstance(data, list):
        return [remap_fields(value, roots, target) for value in data]
    return data
