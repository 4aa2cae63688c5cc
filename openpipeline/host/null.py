"""A host without a DCC: the "scene" is a file on disk, dialogs are scripted.

Used by the CLI, farm machines and tests, so the host-level actions and the menu
run for real without Maya.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path


class NullHost:
    """A stand-in DCC whose open scene is a plain file.

    Args:
        scene: the open scene file, if any.
        answers: what :meth:`ask` returns, in order (None = the artist cancels);
            once they run out, every question is cancelled.

    What it was asked to show is kept in ``shown`` as ``(kind, text)`` pairs,
    kind being ``tell``, ``alert``, ``warn`` or ``text``.
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

    def current_file(self) -> Path | None:
        return self._scene

    def save_as(self, path: Path) -> None:
        if self._scene is None:
            raise FileNotFoundError("the null host has no scene open to save")
        shutil.copyfile(self._scene, path)
        self._scene = path

    def rename_current(self, path: Path) -> None:
        self._scene = path

    def open(self, path: Path) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        self._scene = Path(path)

    def new_scene(self) -> None:
        self._scene = None

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
