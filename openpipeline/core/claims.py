"""Version claims: how a workshop or version number is taken, never twice.

A number is taken by creating an empty file named after it, exclusively, in the
item's ``.op/claims/<kind>`` folder; on a collision the next number is tried.
Two processes never get the same number, and a number is never reused when the
save that took it died. Only a save that failed cleanly, with nothing published
under its number, gives the claim back (see :mod:`versions`), so that a refused
save changes nothing on disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from openpipeline.core import fsutil


def _is_number(name: str) -> bool:
    """A claim's name: plain ASCII digits ('²' is a digit to ``isdigit`` but not to ``int``)."""
    return name.isascii() and name.isdigit()


def claim_number(folder: Path, in_use: Callable[[int], bool] | None = None) -> int:
    """Take the next free number in ``folder`` by exclusive creation.

    Args:
        in_use: numbers for which it says True are skipped without claiming them
            (a file already lies at that number's path, or the history knows it), so a
            lost claims folder never leads to a number being taken twice.

    Cost: one directory listing, then one exclusive create per collision.
    """
    folder.mkdir(parents=True, exist_ok=True)
    taken = [int(entry.name) for entry in os.scandir(folder) if _is_number(entry.name)]
    number = max(taken, default=0) + 1
    while (in_use is not None and in_use(number)) or not fsutil.create_exclusive(folder / str(number)):
        number += 1
    return number


def claimed_numbers(folder: Path) -> list[int]:
    """Every number ever claimed in ``folder``, in order (none if it does not exist).

    Cost: one directory listing.
    """
    try:
        return sorted(int(entry.name) for entry in os.scandir(folder) if _is_number(entry.name))
    except FileNotFoundError:
        return []
