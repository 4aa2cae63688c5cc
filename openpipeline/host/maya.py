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

    def is_batch(self) -> bool:
        return bool(self.cmds.about(batch=True))


# -- menu actions: what plugin/openPipeline.py's menu items call -----------------------
def _session() -> tuple[Any, MayaHost]:
    """The selected project and the Maya host."""
    import os

    from openpipeline.core import registry
    from openpipeline.core.errors import ProjectNotFoundError
    from openpipeline.core.project import Project

    chosen = os.environ.get("OPENPIPELINE_PROJECT")
    root = registry.lookup(chosen) if chosen else registry.active_path()
    if root is None:
        raise ProjectNotFoundError(
            "No project selected; set OPENPIPELINE_PROJECT or activate one with "
            "'openpipeline project activate NAME'."
        )
    return Project.open(root), MayaHost()


def _current_item(host: MayaHost) -> str:
    from openpipeline.core.errors import UserError

    found = host.cmds.fileInfo("openpipeline_item", query=True)
    if not found:
        raise UserError("This scene belongs to no item; use 'Set Item...' first.")
    return str(found[0])


def _prompt(host: MayaHost, title: str, message: str) -> str | None:
    answer = host.cmds.promptDialog(title=title, message=message, button=["OK", "Cancel"],
                                    defaultButton="OK", cancelButton="Cancel",
                                    dismissString="Cancel")
    if answer != "OK":
        return None
    return str(host.cmds.promptDialog(query=True, text=True))


def _report(host: MayaHost, action: Any) -> None:
    """Run a menu action; user errors become a dialog, never a stack trace."""
    from openpipeline.core.errors import OpenPipelineError, UserError

    try:
        message = action()
    except UserError as exc:
        host.cmds.confirmDialog(title="OpenPipeline", message=str(exc), button=["OK"])
        return
    except OpenPipelineError as exc:
        host.cmds.warning(f"OpenPipeline: {exc}")
        return
    if message:
        host.cmds.inViewMessage(assistMessage=message, position="topCenter", fade=True)


def menu_set_item() -> None:
    """Tie the open scene to an item (stored in the scene's fileInfo)."""
    project, host = _session()

    def action() -> str | None:
        address = _prompt(host, "Set Item", "Item address (asset/<type>/<asset>):")
        if address is None:
            return None
        item = project.item(address)
        host.set_scene_info("openpipeline_item", item.ref.address)
        return f"Scene belongs to {item.ref}"

    _report(host, action)


def menu_save_workshop() -> None:
    """Save the open scene as the next workshop of its item."""
    from openpipeline.host import actions

    project, host = _session()

    def action() -> str | None:
        item = project.item(_current_item(host))
        note = _prompt(host, "Save Workshop", f"Note for the new workshop of {item.ref}:")
        if note is None:
            return None
        record = actions.save_workshop(item, host, note)
        return f"Saved workshop {record['version']} of {item.ref}"

    _report(host, action)


def menu_master() -> None:
    """openPipeline's Master: save a workshop, master it, keep working in the workshop."""
    from openpipeline.host import actions

    project, host = _session()

    def action() -> str | None:
        item = project.item(_current_item(host))
        note = _prompt(host, "Master", f"Note for the new master of {item.ref}:")
        if note is None:
            return None
        record = actions.master_scene(item, host, note)
        return f"Mastered {item.ref} (workshop {record['data']['workshop']})"

    _report(host, action)


def menu_bring_in(mode: str) -> None:
    """Reference or import an item's master into the open scene."""
    from openpipeline.host import actions

    project, host = _session()

    def action() -> str | None:
        address = _prompt(host, f"{mode.capitalize()} Master", "Item address:")
        if address is None:
            return None
        path = actions.bring_in(project.item(address), host, mode)
        return f"{mode.capitalize()}d {path.name}"

    _report(host, action)


def menu_lock(acquire: bool) -> None:
    """Check the open scene's item out or in."""
    from openpipeline.core import checkout

    project, host = _session()

    def action() -> str:
        item = project.item(_current_item(host))
        if acquire:
            checkout.acquire(item)
            return f"{item.ref} checked out"
        checkout.release(item)
        return f"{item.ref} checked in"

    _report(host, action)


def menu_history() -> None:
    """Print the open scene's item history to the Script Editor."""
    project, host = _session()

    def action() -> str:
        item = project.item(_current_item(host))
        for event in item.events():
            print(f"{event.time[:19]}  {event.author:<10} {event.event:<9} "
                  f"{event.version or ''}  {event.comment}")
        return f"History of {item.ref} printed to the Script Editor"

    _report(host, action)
