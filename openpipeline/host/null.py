"""A host without a DCC: the "scene" is a file on disk.

Used by the CLI, farm machines and tests, so the host-level actions run for real
without Maya.
"""

from __future__ import annotations

import shutil
from pathlib import Path


class NullHost:
    """A stand-in DCC whose open scene is a plain file."""

    name = "null"

    def __init__(self, scene: Path | None = None) -> None:
        self._scene = scene
        self.imported: list[tuple[Path, str]] = []
        self.referenced: list[tuple[Path, str]] = []
        self.scene_info: dict[str, str] = {}

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
        self.scene_info[key] = value
