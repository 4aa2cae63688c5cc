"""What the OpenPipeline menu and shelf buttons do: ask, act, show the outcome.

Each entry point takes an optional host and project; inside Maya both default to
the Maya host and the selected project (``$OPENPIPELINE_PROJECT`` or the active
one). Everything goes through :class:`openpipeline.host.Host`, so the same code
runs in tests with :class:`openpipeline.host.null.NullHost`. A user error becomes
a dialog, another pipeline error a warning line, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable

from openpipeline.core import checkout
from openpipeline.core.errors import OpenPipelineError, UserError
from openpipeline.core.identity import short_time
from openpipeline.core.items import Item
from openpipeline.core.project import Project
from openpipeline.core.selection import select_project
from openpipeline.host import Host, actions

Action = Callable[[Project, Host], "str | None"]


def _maya_host() -> Host:
    from openpipeline.host.maya import MayaHost

    return MayaHost()


def _run(action: Action, host: Host | None, project: Project | None) -> None:
    """Run a menu action; its message (if any) is shown in passing."""
    host = host if host is not None else _maya_host()
    try:
        message = action(project or select_project(), host)
    except UserError as exc:
        host.alert(str(exc))
        return
    except OpenPipelineError as exc:
        host.warn(str(exc))
        return
    if message:
        host.tell(message)


def _scene_item(project: Project, host: Host) -> Item:
    """The item the open scene belongs to (set by :func:`set_item` or a save)."""
    address = host.scene_info(actions.SCENE_INFO_ITEM)
    if not address:
        raise UserError("This scene belongs to no item; use 'Set Item...' first.")
    return project.item(address)


def set_item(host: Host | None = None, project: Project | None = None) -> None:
    """Tie the open scene to an item (stored in the scene)."""
    def action(project: Project, host: Host) -> str | None:
        address = host.ask("Set Item", "Item address (asset/<type>/<asset>):")
        if address is None:
            return None
        item = project.item(address)
        host.set_scene_info(actions.SCENE_INFO_ITEM, item.ref.address)
        return f"Scene belongs to {item.ref}"

    _run(action, host, project)


def save_workshop(host: Host | None = None, project: Project | None = None) -> None:
    """Save the open scene as the next workshop of its item."""
    def action(project: Project, host: Host) -> str | None:
        item = _scene_item(project, host)
        note = host.ask("Save Workshop", f"Note for the new workshop of {item.ref}:")
        if note is None:
            return None
        record = actions.save_workshop(item, host, note)
        return f"Saved workshop {record.version} of {item.ref}"

    _run(action, host, project)


def master(host: Host | None = None, project: Project | None = None) -> None:
    """openPipeline's Master: save a workshop, master it, keep working in the workshop."""
    def action(project: Project, host: Host) -> str | None:
        item = _scene_item(project, host)
        note = host.ask("Master", f"Note for the new master of {item.ref}:")
        if note is None:
            return None
        record = actions.master_scene(item, host, note)
        return f"Mastered {item.ref} (workshop {record.data.workshop})"

    _run(action, host, project)


def bring_in(mode: str, host: Host | None = None, project: Project | None = None) -> None:
    """Reference (``mode='reference'``) or import an item's master into the open scene."""
    def action(project: Project, host: Host) -> str | None:
        address = host.ask(f"{mode.capitalize()} Master", "Item address:")
        if address is None:
            return None
        path = actions.bring_in(project.item(address), host, mode)
        return f"{mode.capitalize()}d {path.name}"

    _run(action, host, project)


def check_out(acquire: bool, host: Host | None = None, project: Project | None = None) -> None:
    """Check the open scene's item out (``acquire``) or in."""
    def action(project: Project, host: Host) -> str:
        item = _scene_item(project, host)
        if acquire:
            checkout.acquire(item)
            return f"{item.ref} checked out"
        checkout.release(item)
        return f"{item.ref} checked in"

    _run(action, host, project)


def history(host: Host | None = None, project: Project | None = None) -> None:
    """Show the open scene's item history (Maya: in the Script Editor)."""
    def action(project: Project, host: Host) -> str:
        item = _scene_item(project, host)
        host.show_text("\n".join(
            f"{short_time(event.time)}  {event.author:<10} {event.event:<9} "
            f"{event.version or ''}  {event.comment}" for event in item.events()))
        return f"History of {item.ref} printed to the Script Editor"

    _run(action, host, project)
