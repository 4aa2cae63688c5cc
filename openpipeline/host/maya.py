"""The Maya host: the only module of the package that imports ``maya``.

``maya.cmds`` is imported when a :class:`MayaHost` is made, never at module
import, so this module can be imported (and type-checked) without Maya.
All calls run on Maya's main thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class MayaHost:
    """Scene operations through ``maya.cmds``."""

    name = "maya"

    def __init__(self) -> None:
        from maya import cmds

        self.cmds: Any = cmds

    def current_file(self) -> Path | None:
        name = self.cmds.file(query=True, sceneName=True)
        return Path(name) if name else None

    def _type_for(self, path: Path) -> str:
        return "mayaBinary" if path.suffix.lower() == ".mb" else "mayaAscii"

    def save_as(self, path: Path) -> None:
        self.cmds.file(rename=str(path))
        self.cmds.file(save=True, force=True, type=self._type_for(path))

    def rename_current(self, path: Path) -> None:
        self.cmds.file(rename=str(path))

    def open(self, path: Path) -> None:
        self.cmds.file(str(path), open=True, force=True)

    def new_scene(self) -> None:
        self.cmds.file(new=True, force=True)

    def import_file(self, path: Path, namespace: str) -> None:
        self.cmds.file(str(path), i=True, namespace=namespace, mergeNamespacesOnClash=False)

    def reference(self, path: Path, namespace: str) -> None:
        self.cmds.file(str(path), reference=True, namespace=namespace)

    def set_scene_info(self, key: str, value: str) -> None:
        self.cmds.fileInfo(key, value)

    def is_batch(self) -> bool:
        return bool(self.cmds.about(batch=True))
