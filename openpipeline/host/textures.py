"""Which texture paths have no file on disk, UDIM tiles and all (plain Python, no DCC).

A path with a tile token (``<UDIM>``, ``<UVTILES>``, ``<U>``/``<V>``, any case) names a
set of tiles; it counts as missing when no tile of the set exists. Both
:class:`~openpipeline.host.maya.MayaHost` and the null host use it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

_TOKENS = {
    "<udim>": r"\d{4}",
    "<uvtiles>": r"u-?\d+_v-?\d+",
    "<u>": r"-?\d+",
    "<v>": r"-?\d+",
}
_TOKEN = re.compile("|".join(re.escape(token) for token in _TOKENS), re.IGNORECASE)


def has_tile_token(path: str) -> bool:
    """True if ``path`` names a set of UV tiles rather than one file."""
    return _TOKEN.search(Path(path).name) is not None


def texture_exists(path: str) -> bool:
    """True if the file exists, or for a tile set, if at least one tile exists.

    Cost: one ``stat``; for a tile set, one listing of its folder.
    """
    if not has_tile_token(path):
        return os.path.isfile(path)
    folder, name = os.path.split(path)
    pieces = _TOKEN.split(name)
    tokens = _TOKEN.findall(name)
    pattern = "".join(re.escape(piece) + (_TOKENS[token.lower()] if token else "")
                      for piece, token in zip(pieces, [*tokens, ""], strict=True))
    matcher = re.compile(pattern + r"\Z", re.IGNORECASE if os.name == "nt" else 0)
    try:
        return any(matcher.match(entry) for entry in os.listdir(folder or "."))
    except OSError:
        return False


def missing_textures(paths: Iterable[str]) -> list[str]:
    """The distinct, non-empty ``paths`` that :func:`texture_exists` finds nothing for, in order."""
    missing: list[str] = []
    for path in paths:
        if path and path not in missing and not texture_exists(path):
            missing.append(path)
    return missing
