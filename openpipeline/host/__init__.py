"""What the pipeline asks of a DCC, and the actions built on it.

- :class:`Host` (here): the scene operations and the few dialogs the pipeline needs.
- :mod:`.maya`: the Maya adapter, the only module of the package that imports ``maya``.
- :mod:`.null`: a host with no DCC (CLI, farm scripts, tests).
- :mod:`.actions`: pipeline actions on the open scene (save a workshop, master,
  import or reference a master), written against :class:`Host`.
- :mod:`.menu`: what the Maya menu and shelf buttons call: asks, runs an action,
  shows the outcome, all through :class:`Host` (so it runs in tests too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Host(Protocol):
    """The scene operations and dialogs the pipeline needs from a DCC."""

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

    def scene_info(self, key: str) -> str | None:
        """A string stored in the scene by :meth:`set_scene_info`, or None."""

    def ask(self, title: str, message: str) -> str | None:
        """Ask the artist for a line of text; None when they cancel."""

    def tell(self, message: str) -> None:
        """Show a short, passing message (Maya: an in-view message)."""

    def alert(self, message: str) -> None:
        """Show a message the artist must acknowledge (a user error)."""

    def warn(self, message: str) -> None:
        """Report a problem that is not the artist's doing (Maya: a warning line)."""

    def show_text(self, text: str) -> None:
        """Show a block of text (Maya: printed to the Script Editor)."""
