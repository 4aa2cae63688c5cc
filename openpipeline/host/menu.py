"""What the OpenPipeline menu and shelf buttons do: ask, act, show the outcome.

Each entry point takes an optional host and project; inside Maya both default to
the Maya host and the selected project (``$OPENPIPELINE_PROJECT`` or the active
one). Everything goes through :class:`openpipeline.host.Host`, so the same code
runs in tests with :class:`openpipeline.host.null.NullHost`. A user error becomes
a dialog, another pipeline error a warning line, never a stack trace.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from openpipeline.core import checkout
from openpipeline.core.errors import OpenPipelineError, UserError, VersionNotFoundError
from openpipeline.core.identity import short_time
from openpipeline.core.items import Item
from openpipeline.core.project import Project
from openpipeline.core.selection import select_project
from openpipeline.host import Host, actions, keepalive, session

# The plug-in's commands that work on the selection (registered by plugin/openPipeline.py).
RESTORE_TEXTURE_COMMAND = "opRestoreTexture"
SCATTER_COMMAND = "opScatter"

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
        session.enter_project(project, host)
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
    """Check the open scene's item out (``acquire``) or in.

    While checked out, a heartbeat keeps the check-out from going stale as long
    as the item's scene is open; closing the scene checks it in again if this
    check-out took it (a check-out already yours is only kept alive).
    """
    def action(project: Project, host: Host) -> str:
        item = _scene_item(project, host)
        if acquire:
            took = not checkout.held_by(item)
            checkout.acquire(item)
            keepalive.keep_alive(item, host, took=took)
            return f"{item.ref} checked out"
        keepalive.stop_for(item)
        checkout.release(item)
        return f"{item.ref} checked in"

    _run(action, host, project)


def check_in(host: Host | None = None, project: Project | None = None) -> None:
    """Check the open scene's item in (the shelf's Check In)."""
    check_out(False, host, project)


def open_item(host: Host | None = None, project: Project | None = None) -> None:
    """Open an item's latest workshop, or its master when it has no workshop (asks for the address)."""
    def action(project: Project, host: Host) -> str | None:
        address = host.ask("Open", "Item address to open (its latest workshop, else its master):")
        if address is None:
            return None
        item = project.item(address)
        path = _latest_scene(item)
        _open_scene(project, item, host, path)
        return f"Opened {path.name}"

    _run(action, host, project)


def _latest_scene(item: Item) -> Path:
    """The item's latest workshop file, else its master file."""
    try:
        return item.workshop().path
    except VersionNotFoundError:
        pass
    if item.master_path.is_file():
        return item.master_path
    raise VersionNotFoundError(f"'{item.ref}' has no workshop or master yet; save a workshop first.")


def _open_scene(project: Project, item: Item, host: Host, path: Path) -> None:
    """Open one of the item's files, pointed at the project; a check-out of yours is kept alive."""
    session.enter_project(project, host)
    running = keepalive.current()
    if running is not None and running.item.ref == item.ref:
        with keepalive.reopening():
            host.open(path)
    else:
        host.open(path)
    host.set_scene_info(actions.SCENE_INFO_ITEM, item.ref.address)
    if checkout.held_by(item) and (running is None or running.item.ref != item.ref):
        keepalive.keep_alive(item, host, took=False)


def scene_opened(host: Host | None = None, project: Project | None = None) -> None:
    """After any scene was opened (a hook for the plug-in): point the host at its item's project.

    Quiet when the scene belongs to no item or no project is selected.
    """
    host = host if host is not None else _maya_host()
    address = host.scene_info(actions.SCENE_INFO_ITEM)
    if not address:
        return
    try:
        project = project or select_project()
        item = project.item(address)
        session.enter_project(project, host)
        if checkout.held_by(item) and keepalive.current() is None:
            keepalive.keep_alive(item, host, took=False)
    except OpenPipelineError as exc:
        host.warn(str(exc))


def browser(host: Host | None = None, project: Project | None = None) -> None:
    """The browser window, docked in Maya; where it cannot load (no Qt.py in mayapy), the
    items as text (:func:`list_items`) and the one asked for opened.

    The window module is found by name, as an entry point would be: the menu is the top
    of the Maya side, and :mod:`openpipeline.ui` sits above :mod:`openpipeline.host`.
    """
    if host is None:  # from Maya's menu or shelf
        try:
            dock = importlib.import_module("openpipeline.ui.maya_dock")
        except ImportError as exc:
            _maya_host().warn(f"The browser window cannot load ({exc}); install Qt.py into mayapy "
                              f"(README, 'Dependencies inside mayapy'). Listing the items instead.")
        else:
            dock.show()
            return
    list_items(host, project)


def list_items(host: Host | None = None, project: Project | None = None) -> None:
    """List the project's items with openPipeline's markers, then open one.

    Markers: ``M`` has a master, ``W`` workshops only, ``*`` open now.
    """
    def action(project: Project, host: Host) -> str | None:
        current = host.scene_info(actions.SCENE_INFO_ITEM)
        lines = [f"Items of {project.config.name} ({project.root}):"]
        for ref in project.list_items():
            item = project.item(ref)
            state = item.state()
            mark = "M" if state.master is not None else ("W" if state.workshops else " ")
            lines.append(f"  {mark}{'*' if ref.address == current else ' '} {ref.address}")
        host.show_text("\n".join(lines))
        open_item(host, project)
        return None

    _run(action, host, project)


def _capture(kind: str, host: Host, project: Project) -> str | None:
    """Record a snapshot or playblast of the open scene as its item's preview and its workshop's."""
    item = _scene_item(project, host)
    record = actions.capture_preview(kind, item, host)
    return f"{kind.capitalize()} of {item.ref} saved as {Path(record.data.path).name}"


def snapshot(host: Host | None = None, project: Project | None = None) -> None:
    """Save the viewport as the item's preview (164x105, like openPipeline's thumbnails)."""
    _run(lambda project, host: _capture("snapshot", host, project), host, project)


def playblast(host: Host | None = None, project: Project | None = None) -> None:
    """Playblast the playback range as the item's preview movie."""
    _run(lambda project, host: _capture("playblast", host, project), host, project)


def restore_texture(host: Host | None = None) -> None:
    """Restore the selected file nodes' textures (the plug-in's ``opRestoreTexture``); needs no project."""
    _plugin_command(RESTORE_TEXTURE_COMMAND, host)


def scatter(host: Host | None = None) -> None:
    """Scatter points on the selected mesh (the plug-in's ``opScatter``); needs no project."""
    _plugin_command(SCATTER_COMMAND, host)


def _plugin_command(command: str, host: Host | None) -> None:
    """Run one of the plug-in's commands on the selection (as MEL: no Python import needed)."""
    host = host if host is not None else _maya_host()
    try:
        host.run_command("mel", command)
    except OpenPipelineError as exc:
        host.warn(f"{exc} (Is the openPipeline plug-in loaded?)")


def history(host: Host | None = None, project: Project | None = None) -> None:
    """Show the open scene's item history (Maya: in the Script Editor)."""
    def action(project: Project, host: Host) -> str:
        item = _scene_item(project, host)
        host.show_text("\n".join(
            f"{short_time(event.time)}  {event.author:<10} {event.event:<9} "
            f"{event.version or ''}  {event.comment}" for event in item.events()))
        return f"History of {item.ref} printed to the Script Editor"

    _run(action, host, project)
