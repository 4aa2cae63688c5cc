"""A host without a DCC: the "scene" is a file on disk, dialogs are scripted.

Used by the CLI, farm machines and tests, so the host-level actions and the menu
run for real without Maya.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from openpipeline.host import SNAPSHOT_HEIGHT, SNAPSHOT_WIDTH, HostCommandError
from openpipeline.host.textures import missing_textures


class NullHost:
    """A stand-in DCC whose open scene is a plain file.

    Args:
        scene: the open scene file, if any.
        answers: what :meth:`ask` returns, in order (None = the artist cancels);
            once they run out, every question is cancelled.

    What it was asked to show is kept in ``shown`` as ``(kind, text)`` pairs,
    kind being ``tell``, ``alert``, ``warn`` or ``text``.

    The scene's state is scripted: ``modified`` (unsaved changes), ``textures``
    (file nodes' texture paths), ``unknown`` (nodes of unknown type). A repair
    (import references, delete display layers, run a command) is logged in
    ``calls`` as ``(what, scene path)`` and becomes an unsaved edit of the scene:
    :meth:`save_as` writes the scene file with one ``// edit: <what>`` line per
    edit, and :meth:`open` or :meth:`new_scene` discards them, as a DCC would.
    Callbacks of :meth:`on_scene_closed` run on :meth:`open`, :meth:`new_scene`
    and :meth:`quit`; the heartbeat runs when a test calls :meth:`beat`.
    """

    name = "null"

    def __init__(self, scene: Path | None = None, answers: Iterable[str | None] = ()) -> None:
        self._scene = scene
        self._answers = list(answers)
        self.imported: list[tuple[Path, str]] = []
        self.referenced: list[tuple[Path, str]] = []
        self.scene_infos: dict[str, str] = {}
        self.questions: list[tuple[str, str]] = []
        self.shown: list[tuple[str, str]] = []
        self.modified = False
        self.textures: list[str] = []
        self.unknown: list[str] = []
        self.edits: list[str] = []
        self.calls: list[tuple[str, Path | None]] = []
        self.dirmap: list[tuple[str, str]] = []
        self.workspace: Path | None = None
        self.heartbeat: tuple[float, Callable[[], None]] | None = None
        self.closed_callbacks: list[Callable[[], None]] = []
        self.failing_commands: set[str] = set()

    def current_file(self) -> Path | None:
        return self._scene

    def save_as(self, path: Path) -> None:
        if self._scene is None:
            raise FileNotFoundError("the null host has no scene open to save")
        shutil.copyfile(self._scene, path)
        if self.edits:
            with open(path, "a", encoding="utf-8") as scene:
                scene.writelines(f"// edit: {edit}\n" for edit in self.edits)
        self._scene = path
        self.modified = False

    def rename_current(self, path: Path) -> None:
        self._scene = path

    def open(self, path: Path) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        self._closing()
        self._scene = Path(path)

    def new_scene(self) -> None:
        self._closing()
        self._scene = None

    def quit(self) -> None:
        """The DCC quits: the open scene is closed."""
        self._closing()

    def _closing(self) -> None:
        """Run (and forget) the scene-closed callbacks before the scene goes; drop its edits."""
        callbacks, self.closed_callbacks = self.closed_callbacks, []
        for callback in callbacks:
            callback()
        self.edits = []
        self.modified = False

    def import_file(self, path: Path, namespace: str) -> None:
        self.imported.append((Path(path), namespace))

    def reference(self, path: Path, namespace: str) -> None:
        self.referenced.append((Path(path), namespace))

    def set_scene_info(self, key: str, value: str) -> None:
        self.scene_infos[key] = value

    def scene_info(self, key: str) -> str | None:
        return self.scene_infos.get(key)

    def ask(self, title: str, message: str) -> str | None:
        self.questions.append((title, message))
        return self._answers.pop(0) if self._answers else None

    def tell(self, message: str) -> None:
        self.shown.append(("tell", message))

    def alert(self, message: str) -> None:
        self.shown.append(("alert", message))

    def warn(self, message: str) -> None:
        self.shown.append(("warn", message))

    def show_text(self, text: str) -> None:
        self.shown.append(("text", text))

    # -- previews ------------------------------------------------------------
    def snapshot(self, path: Path, width: int = SNAPSHOT_WIDTH, height: int = SNAPSHOT_HEIGHT) -> None:
        self.calls.append(("snapshot", self._scene))
        Path(path).write_bytes(f"snapshot {width}x{height} of {self._scene}".encode())

    def playblast(self, path: Path, start: float | None = None, end: float | None = None) -> None:
        self.calls.append(("playblast", self._scene))
        Path(path).write_bytes(f"playblast {start}-{end} of {self._scene}".encode())

    # -- session -------------------------------------------------------------
    def start_heartbeat(self, seconds: float, callback: Callable[[], None]) -> None:
        self.heartbeat = (seconds, callback)

    def stop_heartbeat(self) -> None:
        self.heartbeat = None

    def beat(self) -> None:
        """Run the heartbeat's callback once, as its timer would (nothing if none runs)."""
        if self.heartbeat is not None:
            self.heartbeat[1]()

    def on_scene_closed(self, callback: Callable[[], None]) -> None:
        self.closed_callbacks.append(callback)

    def set_dirmap(self, mappings: Sequence[tuple[str, str]]) -> None:
        self.dirmap = list(mappings)

    def set_workspace(self, root: Path) -> None:
        self.workspace = Path(root)

    # -- checks and repairs ----------------------------------------------------
    def has_unsaved_changes(self) -> bool:
        return self.modified

    def missing_texture_files(self) -> list[str]:
        return missing_textures(self.textures)

    def unknown_nodes(self) -> list[str]:
        return list(self.unknown)

    def _edit(self, what: str) -> None:
        self.calls.append((what, self._scene))
        self.edits.append(what)
        self.modified = True

    def import_all_references(self) -> None:
        self._edit("import_references")
        self.imported.extend(self.referenced)
        self.referenced = []

    def delete_display_layers(self) -> None:
        self._edit("delete_display_layers")

    def run_command(self, language: str, code: str) -> None:
        if language not in ("python", "mel"):
            raise ValueError(f"language must be 'python' or 'mel', not {language!r}")
        if code in self.failing_commands:
            self.calls.append((f"{language}: {code} (failed)", self._scene))
            raise HostCommandError(f"The {language} command {code!r} failed; check it in the "
                                   "Script Editor.")
        self._edit(f"{language}: {code}")
