"""The Maya host: the only module of the package that imports ``maya``.

``maya.cmds`` is imported when a :class:`MayaHost` is made, never at module
import, so this module can be imported (and type-checked) without Maya.
All calls run on Maya's main thread. What the menu does with it is in
:mod:`openpipeline.host.menu`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from openpipeline.host import SNAPSHOT_HEIGHT, SNAPSHOT_WIDTH, HostCommandError
from openpipeline.host.textures import missing_textures

# Image formats a snapshot may be written in, by suffix: playblast's ``compression`` name.
_IMAGE_FORMATS = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".tif": "tif", ".tiff": "tif"}
# Movie containers by suffix: playblast's ``format`` and ``compression``.
_MOVIE_FORMATS = {".mov": ("qt", "H.264"), ".avi": ("avi", "none")}


class MayaHost:
    """Scene operations and dialogs through ``maya.cmds``."""

    name = "maya"
    # One heartbeat per Maya session, whichever MayaHost (the menu makes one per call) started it.
    _heartbeat_stop: ClassVar[threading.Event | None] = None

    def __init__(self) -> None:
        import importlib

        from maya import cmds, mel

        self.cmds = cmds
        self.mel = mel
        # maya.utils (executeDeferred) is missing from the Maya stubs.
        self.utils: Any = importlib.import_module("maya.utils")

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

    # -- previews ------------------------------------------------------------
    def snapshot(self, path: Path, width: int = SNAPSHOT_WIDTH, height: int = SNAPSHOT_HEIGHT) -> None:
        """The current frame of the active viewport, through a one-frame playblast (as openPipeline did)."""
        compression = _IMAGE_FORMATS.get(Path(path).suffix.lower(), "jpg")
        frame = self.cmds.currentTime(query=True)
        self.cmds.playblast(frame=[frame], format="image", compression=compression,
                            completeFilename=str(path), widthHeight=(width, height), percent=100,
                            quality=90, showOrnaments=False, viewer=False, offScreen=True,
                            forceOverwrite=True)

    def playblast(self, path: Path, start: float | None = None, end: float | None = None) -> None:
        """A movie of the active viewport; ``.mov`` is QuickTime H.264, ``.avi`` uncompressed AVI."""
        movie, compression = _MOVIE_FORMATS.get(Path(path).suffix.lower(), ("qt", "H.264"))
        if start is None:
            start = self.cmds.playbackOptions(query=True, minTime=True)
        if end is None:
            end = self.cmds.playbackOptions(query=True, maxTime=True)
        self.cmds.playblast(startTime=start, endTime=end, format=movie, compression=compression,
                            completeFilename=str(path), percent=100, quality=90,
                            showOrnaments=True, viewer=False, offScreen=True, forceOverwrite=True)

    # -- session -------------------------------------------------------------
    def start_heartbeat(self, seconds: float, callback: Callable[[], None]) -> None:
        """A daemon thread sleeps ``seconds`` between beats and hands each to the main thread.

        ``scriptJob(idleEvent=...)`` would run many times a second and ``QTimer``
        would tie the host to Qt; a sleeping thread costs nothing between beats,
        and ``maya.utils.executeDeferred`` runs the callback on the main thread
        (where ``maya.cmds`` and dialogs are allowed) when Maya is next idle.
        In batch mode there is no idle loop to hand back to, so no heartbeat runs.
        """
        self.stop_heartbeat()
        if self.is_batch():
            return
        stop = threading.Event()
        defer = self.utils.executeDeferred

        def beat() -> None:
            while not stop.wait(seconds):
                defer(callback)

        MayaHost._heartbeat_stop = stop
        threading.Thread(target=beat, name="openpipeline-heartbeat", daemon=True).start()

    def stop_heartbeat(self) -> None:
        if MayaHost._heartbeat_stop is not None:
            MayaHost._heartbeat_stop.set()
            MayaHost._heartbeat_stop = None

    def on_scene_closed(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once, before File > New or Open replaces the scene, or Maya quits.

        Two run-once script jobs (``PreFileNewOrOpened``, ``quitApplication``);
        whichever fires kills the other (never itself: it is running).
        """
        jobs: dict[str, int] = {}

        def fired_by(event: str) -> Callable[[], None]:
            def fired() -> None:
                for other, job in jobs.items():
                    if other != event and self.cmds.scriptJob(exists=job):
                        self.cmds.scriptJob(kill=job, force=True)
                callback()
            return fired

        for event in ("PreFileNewOrOpened", "quitApplication"):
            jobs[event] = int(self.cmds.scriptJob(event=(event, fired_by(event)), runOnce=True))

    def set_dirmap(self, mappings: Sequence[tuple[str, str]]) -> None:
        self.cmds.dirmap(enable=True)
        for source, target in mappings:
            self.cmds.dirmap(mapDirectory=(source, target))

    def set_workspace(self, root: Path) -> None:
        self.cmds.workspace(str(root), openWorkspace=True)

    # -- checks and repairs ----------------------------------------------------
    def has_unsaved_changes(self) -> bool:
        return bool(self.cmds.file(query=True, modified=True))

    def missing_texture_files(self) -> list[str]:
        paths = [str(self.cmds.getAttr(f"{node}.fileTextureName") or "")
                 for node in self.cmds.ls(type="file") or []]
        return missing_textures(paths)

    def unknown_nodes(self) -> list[str]:
        found: list[Any] = self.cmds.ls(type=["unknown", "unknownDag", "unknownTransform"]) or []
        return [str(node) for node in found]

    def import_all_references(self) -> None:
        """Import every loaded reference, repeating until nested ones are gone too."""
        for _ in range(100):  # nesting deeper than this is not a real scene
            references = [path for path in self.cmds.file(query=True, reference=True) or []
                          if self.cmds.referenceQuery(path, isLoaded=True)]
            if not references:
                return
            for path in references:
                self.cmds.file(path, importReference=True)

    def delete_display_layers(self) -> None:
        layers = [layer for layer in self.cmds.ls(type="displayLayer") or []
                  if layer != "defaultLayer" and not self.cmds.referenceQuery(layer, isNodeReferenced=True)]
        if layers:
            self.cmds.delete(layers)

    def run_command(self, language: str, code: str) -> None:
        if language not in ("python", "mel"):
            raise ValueError(f"language must be 'python' or 'mel', not {language!r}")
        try:
            if language == "mel":
                self.mel.eval(code)  # type: ignore[no-untyped-call]  # untyped in the Maya stubs
            else:
                exec(compile(code, "<openpipeline command>", "exec"), {"__name__": "__main__"})
        except Exception as exc:  # the studio's code may raise anything; report it in one line
            raise HostCommandError(f"The {language} command failed ({type(exc).__name__}: {exc}); "
                                   "fix it in the Script Editor and try again.") from exc
