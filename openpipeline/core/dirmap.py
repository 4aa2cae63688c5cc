"""Directory mapping: the project's roots on other OSes, mapped to this machine's root.

A scene saved on a Windows workstation names its files under ``P:/film``; opened on
a Linux machine whose root is ``/mnt/film``, Maya's ``dirmap`` turns one into the
other. The roots come from ``roots:`` in ``openpipeline.yaml`` (``linux``, ``windows``,
``darwin``, each a path); this machine's root is its own entry there, or the folder
the project was opened from.

Example:
    >>> dirmap_pairs({"windows": "P:\\\\film", "linux": "/mnt/film"}, "linux", "/mnt/film")
    [('P:/film', '/mnt/film')]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath, PureWindowsPath


def _maya_form(root: str, platform: str) -> str:
    """A root as Maya writes paths in scenes: forward slashes, no trailing slash."""
    flavour = PureWindowsPath if platform == "windows" else PurePosixPath
    text = flavour(root).as_posix()
    return text.rstrip("/") or "/"


def dirmap_pairs(roots: Mapping[str, str], platform: str, local_root: str) -> list[tuple[str, str]]:
    """``(other OS's root, this machine's root)`` for every other root in ``roots``.

    Args:
        roots: the project's ``roots`` (platform name to path).
        platform: this machine's platform (``linux``, ``windows`` or ``darwin``).
        local_root: where the project lies here (used when ``roots`` has no entry for ``platform``).

    Roots that are the same as this machine's (after turning backslashes into
    slashes) are left out: mapping a path to itself does nothing.

    Cost: none (no disk access).
    """
    here = _maya_form(roots.get(platform, local_root), platform)
    pairs: list[tuple[str, str]] = []
    for other, root in sorted(roots.items()):
        if other == platform:
            continue
        source = _maya_form(root, other)
        if source != here and (source, here) not in pairs:
            pairs.append((source, here))
    return pairs
