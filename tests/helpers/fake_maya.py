"""A small recording stand-in for ``maya.api.OpenMaya``, ``maya.cmds``, ``maya.mel``, ``maya.utils``.

Enough of the Maya API for the plug-in files to load and unload: what they register
(nodes, commands, type IDs), the attributes they create (long and short names, data
kinds, flags) and the ``attributeAffects`` pairs are recorded in :class:`Recorder`.
It checks how the glue *uses* the API, not that Maya would accept it: that is for mypy
against the Maya stubs, and for a real Maya.

``cmds.loadPlugin`` of a ``.py`` file loads it by path and calls its ``initializePlugin``,
as Maya does; ``cmds.unloadPlugin`` calls ``uninitializePlugin``.

Install with :func:`install` (the ``fake_maya`` fixture in the tests does, and takes it
out again afterwards).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAYA_MODULES = ("maya", "maya.api", "maya.api.OpenMaya", "maya.cmds", "maya.mel", "maya.utils")


@dataclass
class Recorder:
    """Everything the glue did through the stand-in."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # registered now
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)  # registered now
    registrations: list[tuple[str, str]] = field(default_factory=list)  # ("registerNode", name)...
    attributes: list[Attribute] = field(default_factory=list)
    added: list[Attribute] = field(default_factory=list)  # MPxNode.addAttribute
    affects: list[tuple[Attribute, Attribute]] = field(default_factory=list)
    plugins: dict[str, types.ModuleType] = field(default_factory=dict)  # loaded through cmds.loadPlugin
    cmds_calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    deferred: list[Any] = field(default_factory=list)
    batch: bool = False
    menus: set[str] = field(default_factory=set)


RECORDER = Recorder()


# ---- maya.api.OpenMaya ----------------------------------------------------------------------

class MObject:
    kNullObj: MObject

    def isNull(self) -> bool:
        return type(self) is MObject


MObject.kNullObj = MObject()


class Attribute(MObject):
    """An attribute object as the stand-in's attribute function sets create it."""

    def __init__(self, long: str, short: str, kind: str, data: Any = None, default: Any = None) -> None:
        self.long, self.short, self.kind, self.data, self.default = long, short, kind, data, default
        self.fields: list[tuple[str, int]] = []
        self.flags: dict[str, Any] = {"writable": True, "storable": True, "readable": True}

    def __repr__(self) -> str:
        return f"<attribute {self.long}>"


class MTypeId:
    def __init__(self, value: int) -> None:
        self.value = value

    def id(self) -> int:
        return self.value


class MFnBase:
    pass


_FLAGS = ("writable", "storable", "readable", "keyable", "hidden", "usedAsFilename", "connectable",
          "channelBox", "array", "cached", "internal", "affectsAppearance")


class MFnAttribute(MFnBase):
    def __init__(self, obj: Attribute | None = None) -> None:
        object.__setattr__(self, "_attr", obj)

    def _record(self, attr: Attribute) -> Attribute:
        object.__setattr__(self, "_attr", attr)
        RECORDER.attributes.append(attr)
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _FLAGS:
            raise AttributeError(f"the stand-in's MFnAttribute has no flag {name!r}")
        self._attr.flags[name] = value

    def __getattr__(self, name: str) -> Any:
        if name in _FLAGS:
            return self._attr.flags.get(name, False)
        raise AttributeError(name)


class MFnNumericData(MFnBase):
    kBoolean, kShort, kInt = "kBoolean", "kShort", "kInt"
    kLong, kFloat, kDouble = "kLong", "kFloat", "kDouble"


class MFnData(MFnBase):
    kString, kMesh, kPointArray, kVectorArray = "kString", "kMesh", "kPointArray", "kVectorArray"
    kIntArray, kDoubleArray = "kIntArray", "kDoubleArray"


class MFnStringData(MFnData):
    def create(self, value: str = "") -> MObject:
        data = MObject()
        data.value = value  # type: ignore[attr-defined]
        return data


class MFnNumericAttribute(MFnAttribute):
    def create(self, long: str, short: str, kind: str, default: Any = 0) -> Attribute:
        return self._record(Attribute(long, short, "numeric", kind, default))


class MFnTypedAttribute(MFnAttribute):
    def create(self, long: str, short: str, kind: str, default: Any = None) -> Attribute:
        return self._record(Attribute(long, short, "typed", kind, default))


class MFnEnumAttribute(MFnAttribute):
    def create(self, long: str, short: str, default: int = 0) -> Attribute:
        return self._record(Attribute(long, short, "enum", None, default))

    def addField(self, name: str, value: int) -> None:
        self._attr.fields.append((name, value))


class MPxNode:
    kDependNode = "kDependNode"

    def __init__(self) -> None:
        pass

    @staticmethod
    def addAttribute(attr: Attribute) -> None:
        RECORDER.added.append(attr)

    @staticmethod
    def attributeAffects(source: Attribute, target: Attribute) -> None:
        RECORDER.affects.append((source, target))


class MPxCommand:
    def __init__(self) -> None:
        pass

    @staticmethod
    def setResult(value: Any) -> None:
        RECORDER.cmds_calls.append(("setResult", (value,), {}))


class MSyntax:
    kNoArg, kBoolean, kLong, kDouble, kString = "kNoArg", "kBoolean", "kLong", "kDouble", "kString"

    def __init__(self) -> None:
        self.flags: list[tuple[str, str, str]] = []

    def addFlag(self, short: str, long: str, kind: str = "kNoArg") -> None:
        self.flags.append((short, long, kind))


class MArgDatabase:
    """Parses a list of ``[flag, value, flag, ...]`` (what the tests pass as ``args``)."""

    def __init__(self, syntax: MSyntax, args: list[Any]) -> None:
        self.values: dict[str, Any] = {}
        kinds = {flag: (short, kind) for short, long, kind in syntax.flags for flag in (short, long)}
        items = iter(args)
        for flag in items:
            short, kind = kinds[flag]
            self.values[short] = True if kind == MSyntax.kNoArg else next(items)

    def isFlagSet(self, flag: str) -> bool:
        return flag in self.values

    def flagArgumentString(self, flag: str, _index: int) -> str:
        return str(self.values[flag])

    def flagArgumentInt(self, flag: str, _index: int) -> int:
        return int(self.values[flag])

    def flagArgumentDouble(self, flag: str, _index: int) -> float:
        return float(self.values[flag])


class MFnPlugin(MFnBase):
    def __init__(self, obj: Any, vendor: str = "", version: str = "", api: str = "") -> None:
        self.obj = obj
        if vendor:
            obj.vendor, obj.version = vendor, version

    def registerNode(self, name: str, type_id: MTypeId, creator: Any, initializer: Any,
                     kind: str = MPxNode.kDependNode) -> None:
        if name in RECORDER.nodes or any(n["id"] == type_id.value for n in RECORDER.nodes.values()):
            raise RuntimeError(f"node {name} or its ID is registered already")
        RECORDER.registrations.append(("registerNode", name))
        initializer()
        RECORDER.nodes[name] = {"id": type_id.value, "creator": creator, "kind": kind, "plugin": self.obj}

    def deregisterNode(self, type_id: MTypeId) -> None:
        name = next(n for n, info in RECORDER.nodes.items() if info["id"] == type_id.value)
        RECORDER.registrations.append(("deregisterNode", name))
        del RECORDER.nodes[name]

    def registerCommand(self, name: str, creator: Any, syntax: Any = None) -> None:
        if name in RECORDER.commands:
            raise RuntimeError(f"command {name} is registered already")
        RECORDER.registrations.append(("registerCommand", name))
        RECORDER.commands[name] = {"creator": creator, "syntax": syntax, "plugin": self.obj}

    def deregisterCommand(self, name: str) -> None:
        RECORDER.registrations.append(("deregisterCommand", name))
        del RECORDER.commands[name]


class MGlobal:
    kInteractive, kBatch = 0, 1

    @staticmethod
    def mayaState() -> int:
        return MGlobal.kBatch if RECORDER.batch else MGlobal.kInteractive

    @staticmethod
    def displayWarning(message: str) -> None:
        RECORDER.cmds_calls.append(("displayWarning", (message,), {}))


class _Anything:
    """Any other API name: recorded when used, never called by the load and unload paths."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, name: str) -> _Anything:
        return _Anything(f"{self.name}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> _Anything:
        RECORDER.cmds_calls.append((self.name, args, kwargs))
        return _Anything(f"{self.name}()")


def _open_maya() -> types.ModuleType:
    module = types.ModuleType("maya.api.OpenMaya")
    for value in (MObject, MTypeId, MFnBase, MFnAttribute, MFnNumericData, MFnData, MFnStringData,
                  MFnNumericAttribute, MFnTypedAttribute, MFnEnumAttribute, MPxNode, MPxCommand, MSyntax,
                  MArgDatabase, MFnPlugin, MGlobal):
        setattr(module, value.__name__, value)
    for name in ("MPlug", "MDataBlock", "MDataHandle", "MObjectHandle", "MNodeMessage", "MMessage", "MFnMesh",
                 "MSpace", "MPointArray", "MPoint", "MVectorArray", "MVector", "MIntArray", "MDoubleArray",
                 "MFnPointArrayData", "MFnVectorArrayData", "MFnIntArrayData", "MFnDoubleArrayData",
                 "MDGModifier", "MFnDependencyNode", "MFnDagNode", "MFn", "MSelectionList"):
        setattr(module, name, _Anything(name))
    return module


# ---- maya.cmds, maya.mel, maya.utils --------------------------------------------------------

def _record(name: str, *args: Any, **kwargs: Any) -> None:
    RECORDER.cmds_calls.append((name, args, kwargs))


def _about(**kwargs: Any) -> Any:
    _record("about", **kwargs)
    return RECORDER.batch if kwargs.get("batch") else ""


def _menu(name: str = "", **kwargs: Any) -> Any:
    _record("menu", name, **kwargs)
    if kwargs.get("exists"):
        return name in RECORDER.menus
    RECORDER.menus.add(name)
    return name


def _delete_ui(name: str) -> None:
    _record("deleteUI", name)
    RECORDER.menus.discard(name)


def _plugin_info(name: str, **kwargs: Any) -> bool:
    _record("pluginInfo", name, **kwargs)
    return Path(name).name in RECORDER.plugins


def _load_plugin(path: str) -> None:
    _record("loadPlugin", path)
    plugin = load_plugin_file(Path(path), f"_fake_maya_plugin_{Path(path).stem}")
    plugin.initializePlugin(PluginObject(path))
    RECORDER.plugins[Path(path).name] = plugin


def _unload_plugin(name: str) -> None:
    _record("unloadPlugin", name)
    RECORDER.plugins.pop(Path(name).name).uninitializePlugin(PluginObject(name))


def _any_command(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)  # module machinery (inspect asks for __file__ and the like)
    return lambda *args, **kwargs: _record(name, *args, **kwargs)


def _cmds() -> types.ModuleType:
    module = _simple("maya.cmds", about=_about, menu=_menu, deleteUI=_delete_ui, pluginInfo=_plugin_info,
                     loadPlugin=_load_plugin, unloadPlugin=_unload_plugin)
    module.__getattr__ = _any_command  # type: ignore[method-assign]
    return module


@dataclass
class PluginObject:
    """What Maya passes to initializePlugin: here the plug-in's path."""

    path: str
    vendor: str = ""
    version: str = ""


def _simple(name: str, **functions: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in functions.items():
        setattr(module, key, value)
    return module


def install(modules: dict[str, Any]) -> Recorder:
    """Put the stand-in into ``modules`` (``sys.modules`` or a monkeypatched view of it); a fresh recorder."""
    global RECORDER
    RECORDER = Recorder()
    maya = _simple("maya")
    api = _simple("maya.api")
    open_maya = _open_maya()
    cmds = _cmds()
    mel = _simple("maya.mel", eval=lambda text: "MayaWindow")
    utils = _simple("maya.utils", executeDeferred=lambda fn, *a: RECORDER.deferred.append((fn, a)))
    maya.api, maya.cmds, maya.mel, maya.utils = api, cmds, mel, utils  # type: ignore[attr-defined]
    api.OpenMaya = open_maya  # type: ignore[attr-defined]
    for name, module in zip(MAYA_MODULES, (maya, api, open_maya, cmds, mel, utils), strict=True):
        modules[name] = module
    return RECORDER


def load_plugin_file(path: Path, name: str) -> types.ModuleType:
    """Import a plug-in file by path, as Maya does (the stand-in must be installed first)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def uninstall() -> None:
    """Take the stand-in out of ``sys.modules``."""
    for name in MAYA_MODULES:
        sys.modules.pop(name, None)
