"""Validation of every name that becomes part of a path.

Names are ASCII letters, digits and ``_``, start with a letter, and are at most
:data:`MAX_NAME_LENGTH` characters. Names reserved by Windows (``CON``, ``NUL``,
``COM1`` ...) and the layout's own folder names are refused, and so are names
that differ from an existing sibling only by case (they collide on Windows and
macOS file systems).

Example:
    >>> validate_name("chair_01", "Asset")
    'chair_01'
    >>> try:
    ...     validate_name("bob/x", "Asset")
    ... except InvalidNameError as exc:
    ...     print(exc)
    Asset name 'bob/x' may only contain letters, digits and '_' (found '/').
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from openpipeline.core.errors import InvalidNameError

MAX_NAME_LENGTH = 64

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z", re.ASCII)

WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in range(10)]
    + [f"LPT{i}" for i in range(10)]
)

# Folder names of the default layout; an item with one of these names would be
# mistaken for a layout folder (and the other way round).
LAYOUT_RESERVED = frozenset(
    ["workshop", "version", "notes", "components", "archive", "deleted"]
)


def _describe_char(char: str) -> str:
    if char.isspace():
        return "a space" if char == " " else f"whitespace U+{ord(char):04X}"
    if ord(char) > 127:
        name = unicodedata.name(char, "unknown character")
        return f"the non-ASCII character '{char}' (U+{ord(char):04X} {name})"
    return f"'{char}'"


def validate_name(
    name: str,
    what: str = "Name",
    *,
    siblings: Iterable[str] = (),
    reserved: Iterable[str] = (),
) -> str:
    """Check that ``name`` can safely become a folder or file name.

    Args:
        name: the name to check.
        what: what the name is for, used in the message ("Asset", "Shot").
        siblings: existing names beside it; a case-only difference is refused.
        reserved: further names to refuse (for example the project's folder names).

    Returns:
        The name, unchanged.

    Raises:
        InvalidNameError: with one sentence saying what is wrong.
    """
    if not isinstance(name, str) or name == "":
        raise InvalidNameError(f"{what} name is empty; give a name of letters, digits and '_'.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"{what} name '{name[:20]}...' is {len(name)} characters long; "
            f"use at most {MAX_NAME_LENGTH}."
        )
    if not _NAME.match(name):
        if ".." in name:
            raise InvalidNameError(
                f"{what} name '{name}' may only contain letters, digits and '_' (found '..')."
            )
        bad = next((c for c in name if not (c.isascii() and (c.isalnum() or c == "_"))), None)
        if bad is not None:
            raise InvalidNameError(
                f"{what} name '{name}' may only contain letters, digits and '_' "
                f"(found {_describe_char(bad)})."
            )
        raise InvalidNameError(f"{what} name '{name}' must start with a letter.")
    upper = name.upper()
    if upper in WINDOWS_RESERVED:
        raise InvalidNameError(f"{what} name '{name}' is reserved by Windows; choose another.")
    lower = name.lower()
    reserved_lower = {r.lower() for r in reserved} | LAYOUT_RESERVED
    if lower in reserved_lower:
        raise InvalidNameError(
            f"{what} name '{name}' is a folder name of the project layout; choose another."
        )
    for sibling in siblings:
        if sibling != name and sibling.lower() == lower:
            raise InvalidNameError(
                f"{what} name '{name}' differs from the existing '{sibling}' only by case; "
                "use the existing name or choose another."
            )
    return name
