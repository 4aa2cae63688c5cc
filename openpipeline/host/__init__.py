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

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from openpipeline.core.errors import OpenPipelineError

SNAPSHOT_WIDTH, SNAPSHOT_HEIGHT = 164, 105  # openPipeline's thumbnail size


class HostCommandError(OpenPipelineError):
    """A command the host ran failed (a custom master command, a plug-in command)."""


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

    # -- previews ------------------------------------------------------------
    def snapshot(self, path: Path, width: int = SNAPSHOT_WIDTH, height: int = SNAPSHOT_HEIGHT) -> None:
        """Write the current viewport frame to the image ``path`` (its suffix names the format)."""

    def playblast(self, path: Path, start: float | None = None, end: float | None = None) -> None:
        """Write a movie of frames ``start``..``end`` (default: the playback range) to ``path``."""

    # -- session -------------------------------------------------------------
    def start_heartbeat(self, seconds: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the main thread every ``seconds`` until :meth:`stop_heartbeat`."""

    def stop_heartbeat(self) -> None:
        """Stop the heartbeat started by :meth:`start_heartbeat` (nothing if none runs)."""

    def on_scene_closed(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, after the open scene was replaced (new or opened) or the DCC quits."""

    def set_dirmap(self, mappings: Sequence[tuple[str, str]]) -> None:
        """Map each ``(from, to)`` root in scene paths (Maya: ``dirmap``), and switch mapping on."""

    def set_workspace(self, root: Path) -> None:
        """Make ``root`` the DCC's project folder (Maya: the workspace)."""

    # -- checks and repairs of the open scene (the master options) -------------
    def has_unsaved_changes(self) -> bool:
        """True if the open scene was changed since it was last saved or opened."""

    def missing_texture_files(self) -> list[str]:
        """Texture paths of file nodes with no file on disk (a ``<UDIM>`` path: no tile at all)."""

    def unknown_nodes(self) -> list[str]:
        """Nodes whose type the DCC does not know (a plug-in missing when the scene was opened)."""

    def import_all_references(self) -> None:
        """Import every reference into the scene (nested ones too)."""

    def delete_display_layers(self) -> None:
        """Delete every display layer but the default one."""

    def run_command(self, language: str, code: str) -> None:
        """Run ``code`` as ``language`` (``python`` or ``mel``) in the DCC.

        Raises:
            HostCommandError: the code failed; the message says what it raised.
        """
