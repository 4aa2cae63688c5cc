"""What the pipeline asks of a DCC, and the actions built on it.

A :class:`Host` saves, opens, imports and references scene files. The Maya
implementation lives in :mod:`openpipeline.host.maya` (the only module of the
package that imports ``maya``); :mod:`openpipeline.host.null` is a host with no
DCC, used by the CLI, farm scripts and tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Host(Protocol):
    """The scene operations the pipeline needs from a DCC."""

    name: str

    def current_file(self) -> Path | None:
        """The open scene's path, or None for an unsaved scene."""

    def save_as(self, path: Path) -> None:
        """Write the open scene to ``path``; afterwards the scene is named ``path``."""

    def rename_current(self, path: Path) -> None:
        """Give the open scene a new name without saving."""

    def open(self, path: Path) -> None:
        """Open ``path`` (unsaved changes are the caller's concern)."""

    def new_scene(self) -> None:
        """Start an empty scene."""

    def import_file(self, path: Path, namespace: str) -> None:
        """Import ``path`` into the open scene."""

    def reference(self, path: Path, namespace: str) -> None:
        """Reference ``path`` into the open scene."""

    def set_scene_info(self, key: str, value: str) -> None:
        """Store a string in the scene (Maya: ``fileInfo``)."""
