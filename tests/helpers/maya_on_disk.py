"""A file-backed stand-in for the ``maya`` package, written to a folder at test time (for subprocesses).

For running the farm scripts' Maya paths under plain python: the "scene" is a file whose
bytes are copied on save. It proves a script's flow (initialise, open, save, master,
uninitialise), not what Maya accepts. Kept as text, not as a package in the tests folder, so
that collecting tests never imports a module named ``maya``.
"""

from __future__ import annotations

from pathlib import Path

FILES = {
    '__init__.py': '''\
"""A file-backed stand-in for the ``maya`` package, for running the farm scripts' Maya paths
under plain python: the "scene" is a file whose bytes are copied on save. It proves the
scripts' flow (initialise, open, save, master, uninitialise), not what Maya accepts."""
''',
    'cmds.py': '''\
"""``maya.cmds`` stand-in: the open scene is a file; ``file`` opens, renames, saves and queries it."""

import shutil

_scene = {"opened": None, "name": None, "modified": False}
_info = {}


def file(*args, **flags):
    if flags.get("query"):
        if flags.get("sceneName"):
            return _scene["name"] or ""
        if flags.get("modified"):
            return _scene["modified"]
        return []
    if flags.get("open"):
        _scene.update(opened=args[0], name=args[0], modified=False)
    elif "rename" in flags:
        _scene["name"] = flags["rename"]
    elif flags.get("save"):
        if _scene["name"] != _scene["opened"]:
            shutil.copyfile(_scene["opened"], _scene["name"])
        _scene["modified"] = False
    elif flags.get("newFile"):
        _scene.update(opened=None, name=None, modified=False)
    return None


def fileInfo(*args, **flags):
    if flags.get("query"):
        return [_info[args[0]]] if args[0] in _info else []
    _info[args[0]] = args[1]
    return None


def about(**flags):
    return True if flags.get("batch") else ""


def ls(*args, **flags):
    return []


def __getattr__(name):
    return lambda *args, **flags: None
''',
    'mel.py': '''\
"""``maya.mel`` stand-in."""


def eval(code):
    return None
''',
    'standalone.py': '''\
"""``maya.standalone`` stand-in: records that it was initialised and uninitialised."""

import os

state = {"initialized": False}


def initialize(name="python"):
    state["initialized"] = True
    log = os.environ.get("FAKE_MAYA_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as stream:
            stream.write("initialize\\n")


def uninitialize():
    log = os.environ.get("FAKE_MAYA_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as stream:
            stream.write("uninitialize\\n")
''',
    'utils.py': '''\
"""``maya.utils`` stand-in."""


def executeDeferred(fn, *args):
    return fn(*args)
''',
}


def install(folder: Path) -> Path:
    """Write the stand-in ``maya`` package under ``folder``; returns ``folder`` (put it on PYTHONPATH)."""
    package = folder / "maya"
    package.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (package / name).write_text(text, encoding="utf-8")
    return folder
