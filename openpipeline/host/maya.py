"""The Maya host: the only module of the package that imports ``maya``.

``maya.cmds`` is imported when a :class:`MayaHost` is made, never at module
import, so this module can be imported (and type-checked) without Maya.
All calls run on Maya's main thread. What the menu does with it is in
:mod:`openpipeline.host.menu`.
"""

from __future__ import annotations

from pathlib import Path


class MayaHost:
    """Scene operations and dialogs through ``maya.cmds``."""

    name = "maya"

    def __init__(self) -> None:
        from maya import cmds

        self.cmds = cmds

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
        self.cmds.file(newFile=True, force=True)

    def import_file(self, path: Path, namespace: str) -> None:
        self.cmds.file(str(path), i=True, namespace=namespace, mergeNamespacesOnClash=False)

    def reference(self, path: Path, namespace: str) -> None:
        self.cmds.file(str(path), reference=True, namespace=namespace)

    def set_scene_info(self, key: str, value: str) -> None:
        self.cmds.fileInfo(key, value)

    def scene_info(self, key: str) -> str | None:
        found = self.cmds.fileInfo(key, query=True)
        return str(found[0]) if found else None

    def ask(self, title: str, message: str) -> str | None:
        answer = self.cmds.promptDialog(title=title, message=message, button=["OK", "Cancel"],
                                        defaultButton="OK", cancelButton="Cancel",
                                        dismissString="Cancel")
        if answer != "OK":
            return None
        return str(self.cmds.promptDialog(query=True, text=True))

    def tell(self, message: str) -> None:
        self.cmds.inViewMessage(assistMessage=message, position="topCenter", fade=True)

    def alert(self, message: str) -> None:
        self.cmds.confirmDialog(title="OpenPipeline", message=message, button=["OK"])

    def warn(self, message: str) -> None:
        self.cmds.warning(f"OpenPipeline: {message}")

    def show_text(self, text: str) -> None:
        print(text)

    def is_batch(self) -> bool:
        return bool(self.cmds.about(batch=True))
