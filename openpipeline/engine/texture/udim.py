"""UDIM sets: ``name.<UDIM>.ext`` stands for every ``name.1001.ext``, ``name.1002.ext``... on disk."""

from __future__ import annotations

import glob
import re
from pathlib import Path

from openpipeline.engine.errors import EngineInputError

UDIM_TOKEN = "<UDIM>"


def udim_paths(pattern: str) -> list[tuple[str, Path]]:
    """``name.<UDIM>.ext`` → [(tile number, path)] of the tiles on disk; a plain name → itself."""
    if UDIM_TOKEN in pattern:
        wildcard = glob.escape(pattern).replace(UDIM_TOKEN, "[1-9][0-9][0-9][0-9]")
        found = sorted(glob.glob(wildcard))
        regex = re.compile(re.escape(pattern).replace(re.escape(UDIM_TOKEN), r"(\d{4})") + r"\Z")
        tiles = [(m.group(1), Path(p)) for p in found if (m := regex.match(p))]
        if not tiles:
            raise EngineInputError(f"No UDIM tiles match '{pattern}'; expected files like "
                                   f"{pattern.replace(UDIM_TOKEN, '1001')}.")
        return tiles
    return [("", Path(pattern))]


def output_for(pattern: str, tile: str) -> Path:
    return Path(pattern.replace(UDIM_TOKEN, tile)) if tile else Path(pattern)
