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
    scene: Scene = field(default_factory=lambda: Scene())  # Scene is defined below
    callbacks: dict[int, tuple[Any, Any]] = field(default_factory=dict)  # id -> (node, function)
    script_jobs: dict[int, tuple[str, Any]] = field(default_factory=dict)  # job number -> (event, command)


RECORDER: Recorder  # made by install(), once every class is defined


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
        self._object = Node(f"{type(self).__name__}{len(RECORDER.scene.nodes) + 1}", type(self).__name__)

    def thisMObject(self) -> Node:
        return self._object

    def name(self) -> str:
        return self._object.name

    @staticmethod
    def addAttribute(attr: Attribute) -> None:
        RECORDER.added.append(attr)

    @staticmethod
    def attributeAffects(source: Attribute, target: Attribute) -> None:
        RECORDER.affects.append((source, target))


class MPxCommand:
    result: list[Any] = []  # noqa: RUF012  # Maya's command result: one per process, like Maya's

    def __init__(self) -> None:
        self._syntax: MSyntax | None = None

    def syntax(self) -> MSyntax | None:
        return self._syntax

    @staticmethod
    def setResult(value: Any) -> None:
        MPxCommand.result = [value]

    @staticmethod
    def clearResult() -> None:
        MPxCommand.result = []

    @staticmethod
    def appendToResult(value: Any) -> None:
        MPxCommand.result.append(value)


def run_command(name: str, args: list[Any]) -> MPxCommand:
    """Create the registered command ``name`` as Maya would and run its doIt with ``args``."""
    entry = RECORDER.commands[name]
    command: MPxCommand = entry["creator"]()
    command._syntax = entry["syntax"]() if entry["syntax"] else None
    command.doIt(args)
    return command


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

    @staticmethod
    def displayError(message: str) -> None:
        RECORDER.cmds_calls.append(("displayError", (message,), {}))

    @staticmethod
    def getActiveSelectionList() -> MSelectionList:
        return MSelectionList(list(RECORDER.scene.selection))


# ---- a tiny scene: nodes, plugs, selection, DG modifier, data blocks, meshes ------------------

class MFn:
    kTransform, kMesh, kFileTexture = "kTransform", "kMesh", "kFileTexture"


class Node(MObject):
    """A node of the tiny scene: a name, a type, its attribute values by long name."""

    def __init__(self, name: str, type_name: str, fns: tuple[str, ...] = (), **values: Any) -> None:
        self.name, self.type_name, self.fns = name, type_name, fns
        self.values: dict[str, Any] = dict(values)
        self.shape: Node | None = None  # a transform's one shape

    def hasFn(self, fn: str) -> bool:
        return fn in self.fns

    def isNull(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<node {self.name}>"


@dataclass
class Scene:
    nodes: dict[int, Node] = field(default_factory=dict)  # id(node) -> node
    connections: set[tuple[tuple[int, str], tuple[int, str]]] = field(default_factory=set)
    selection: list[Node] = field(default_factory=list)

    def add(self, *nodes: Node) -> None:
        for node in nodes:
            self.nodes[id(node)] = node

    def of_type(self, type_name: str) -> list[Node]:
        return [node for node in self.nodes.values() if node.type_name == type_name]

    def named(self, name: str) -> Node:
        return next(node for node in self.nodes.values() if node.name == name)


def _attribute_name(attribute: Any) -> str:
    return attribute.long if isinstance(attribute, Attribute) else str(attribute)


class MPlug:
    def __init__(self, node: Node | None = None, attribute: Any = None) -> None:
        self.node, self.attr = node, attribute

    def attribute(self) -> Any:
        return self.attr

    @property
    def key(self) -> tuple[int, str]:
        return id(self.node), _attribute_name(self.attr)

    @property
    def isDestination(self) -> bool:
        return any(target == self.key for _, target in RECORDER.scene.connections)

    def asString(self) -> str:
        return str(self.node.values.get(_attribute_name(self.attr), "")) if self.node else ""

    def asInt(self) -> int:
        return int(self.node.values.get(_attribute_name(self.attr), 0)) if self.node else 0

    def setInt(self, value: int) -> None:
        assert self.node is not None
        self.node.values[_attribute_name(self.attr)] = value

    def elementByLogicalIndex(self, index: int) -> MPlug:
        return MPlug(self.node, f"{_attribute_name(self.attr)}[{index}]")


class MFnDependencyNode(MFnBase):
    def __init__(self, node: Node) -> None:
        self.node = node

    def findPlug(self, name: str, _wanted_networked: bool) -> MPlug:
        return MPlug(self.node, name)

    def name(self) -> str:
        return self.node.name


class _DagPath:
    def __init__(self, node: Node) -> None:
        self._node = node

    def extendToShape(self) -> None:
        if self._node.shape is None:
            raise RuntimeError("no shape")
        self._node = self._node.shape

    def node(self) -> Node:
        return self._node


class MSelectionList:
    def __init__(self, nodes: list[Node] | None = None) -> None:
        self.nodes = nodes or []

    def length(self) -> int:
        return len(self.nodes)

    def getDependNode(self, index: int) -> Node:
        return self.nodes[index]

    def getDagPath(self, index: int) -> _DagPath:
        return _DagPath(self.nodes[index])


class MDGModifier:
    """Queues operations; doIt runs those queued since the last doIt; undoIt takes all back."""

    def __init__(self) -> None:
        self.queued: list[list[Any]] = []
        self.done: list[list[Any]] = []

    def createNode(self, type_name: str) -> Node:
        node = Node(f"{type_name}{len(RECORDER.scene.of_type(type_name)) + 1}", type_name)
        self.queued.append(["create", node])
        return node

    def renameNode(self, node: Node, name: str) -> None:
        self.queued.append(["rename", node, name])

    def _set(self, plug: MPlug, value: Any) -> None:
        self.queued.append(["set", plug, value])

    newPlugValueString = newPlugValueShort = newPlugValueInt = newPlugValueDouble = _set

    def connect(self, source: MPlug, target: MPlug) -> None:
        self.queued.append(["connect", source, target])

    def doIt(self) -> None:
        for operation in self.queued:
            _apply(operation)
            self.done.append(operation)
        self.queued = []

    def undoIt(self) -> None:
        for operation in reversed(self.done):
            _revert(operation)
        self.queued, self.done = self.done + self.queued, []


def _apply(operation: list[Any]) -> None:
    what, scene = operation[0], RECORDER.scene
    if what == "create":
        scene.add(operation[1])
    elif what == "rename":
        operation.append(operation[1].name)
        operation[1].name = operation[2]
    elif what == "set":
        plug = operation[1]
        operation.append(plug.node.values.get(_attribute_name(plug.attr)))
        plug.node.values[_attribute_name(plug.attr)] = operation[2]
    else:
        scene.connections.add((operation[1].key, operation[2].key))


def _revert(operation: list[Any]) -> None:
    what, scene = operation[0], RECORDER.scene
    if what == "create":
        del scene.nodes[id(operation[1])]
    elif what == "rename":
        operation[1].name = operation.pop()
    elif what == "set":
        plug = operation[1]
        plug.node.values[_attribute_name(plug.attr)] = operation.pop()
    else:
        scene.connections.discard((operation[1].key, operation[2].key))


class MObjectHandle:
    def __init__(self, node: Node) -> None:
        self.node = node

    def isValid(self) -> bool:
        return not getattr(self.node, "deleted", False)

    def object(self) -> Node:
        return self.node


class MMessage:
    @staticmethod
    def removeCallback(callback_id: int) -> None:
        del RECORDER.callbacks[callback_id]


class MNodeMessage(MMessage):
    @staticmethod
    def addNodePreRemovalCallback(node: Node, function: Any) -> int:
        callback_id = len(RECORDER.callbacks) + 1
        RECORDER.callbacks[callback_id] = (node, function)
        return callback_id


def delete_node(node: Node) -> None:
    """Delete ``node`` as Maya would: its pre-removal callbacks first."""
    for owner, function in list(RECORDER.callbacks.values()):
        if owner is node:
            function(node, None)
    node.deleted = True  # type: ignore[attr-defined]


class MDataHandle:
    def __init__(self, store: dict[str, Any], name: str) -> None:
        self.store, self.name = store, name

    def _get(self, default: Any) -> Any:
        value = self.store.get(self.name, default)
        return default if value is None else value

    def asString(self) -> str:
        return str(self._get(""))

    def asShort(self) -> int:
        return int(self._get(0))

    asInt = asShort

    def asDouble(self) -> float:
        return float(self._get(0.0))

    def asBool(self) -> bool:
        return bool(self._get(False))

    def asMesh(self) -> MObject:
        value: MObject = self._get(MObject.kNullObj)
        return value

    def _set(self, value: Any) -> None:
        self.store[self.name] = value

    setString = setShort = setInt = setDouble = setMObject = _set


class MDataBlock:
    """Input values by attribute long name (the attributes' defaults where not given)."""

    def __init__(self, inputs: dict[str, Any], outputs: dict[str, Any] | None = None) -> None:
        defaults = {a.long: a.default for a in RECORDER.attributes if not isinstance(a.default, MObject)}
        self.inputs = {**defaults, **inputs}
        self.outputs: dict[str, Any] = dict(outputs or {})
        self.clean: set[str] = set()

    def inputValue(self, attribute: Attribute) -> MDataHandle:
        return MDataHandle(self.inputs, attribute.long)

    def outputValue(self, attribute: Attribute) -> MDataHandle:
        return MDataHandle(self.outputs, attribute.long)

    def setClean(self, attribute: Attribute) -> None:
        self.clean.add(attribute.long)


class MSpace:
    kObject, kWorld = "kObject", "kWorld"


@dataclass
class MPoint:
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


class MVector(MPoint):
    pass


class _ArrayData(MFnBase):
    def create(self, values: list[Any]) -> list[Any]:
        return values


class MeshData(MObject):
    """Mesh data on an ``inMesh`` plug: triangles only, with optional per-corner UVs."""

    def __init__(self, vertices: Any, faces: Any) -> None:
        self.vertices, self.faces = vertices, faces

    def isNull(self) -> bool:
        return False


class MFnMesh(MFnBase):
    def __init__(self, mesh: MeshData) -> None:
        self.mesh = mesh

    def getPoints(self, _space: str) -> list[MPoint]:
        return [MPoint(*map(float, p)) for p in self.mesh.vertices]

    def getTriangles(self) -> tuple[list[int], list[int]]:
        return [1] * len(self.mesh.faces), [int(i) for face in self.mesh.faces for i in face]

    def getTriangleOffsets(self) -> tuple[list[int], list[int]]:
        return [1] * len(self.mesh.faces), [0, 1, 2] * len(self.mesh.faces)

    def getAssignedUVs(self) -> tuple[list[int], list[int]]:
        return [0] * len(self.mesh.faces), []

    def getUVs(self) -> tuple[list[float], list[float]]:
        return [], []


def _open_maya() -> types.ModuleType:
    module = types.ModuleType("maya.api.OpenMaya")
    for value in (MObject, MTypeId, MFnBase, MFnAttribute, MFnNumericData, MFnData, MFnStringData,
                  MFnNumericAttribute, MFnTypedAttribute, MFnEnumAttribute, MPxNode, MPxCommand, MSyntax,
                  MArgDatabase, MFnPlugin, MGlobal, MFn, MPlug, MFnDependencyNode, MSelectionList,
                  MDGModifier, MObjectHandle, MNodeMessage, MMessage, MDataBlock, MDataHandle, MSpace,
                  MPoint, MVector, MFnMesh):
        setattr(module, value.__name__, value)
    for name in ("MPointArray", "MVectorArray", "MIntArray", "MDoubleArray"):
        setattr(module, name, list)  # the arrays as plain lists
    for name in ("MFnPointArrayData", "MFnVectorArrayData", "MFnIntArrayData", "MFnDoubleArrayData"):
        setattr(module, name, _ArrayData)
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


def _ls(*_args: Any, **kwargs: Any) -> list[str]:
    _record("ls", **kwargs)
    return [node.name for node in RECORDER.scene.selection] if kwargs.get("selection") else []


def _script_job(**kwargs: Any) -> Any:
    _record("scriptJob", **kwargs)
    if "kill" in kwargs:
        del RECORDER.script_jobs[kwargs["kill"]]  # Maya raises for a job that does not exist
        return None
    if "exists" in kwargs:
        return kwargs["exists"] in RECORDER.script_jobs
    event, command = kwargs["event"]
    number = max(RECORDER.script_jobs, default=0) + 1
    RECORDER.script_jobs[number] = (event, command)
    return number


def _any_command(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)  # module machinery (inspect asks for __file__ and the like)
    return lambda *args, **kwargs: _record(name, *args, **kwargs)


def _cmds() -> types.ModuleType:
    module = _simple("maya.cmds", about=_about, menu=_menu, deleteUI=_delete_ui, pluginInfo=_plugin_info,
                     loadPlugin=_load_plugin, unloadPlugin=_unload_plugin, ls=_ls,
                     scriptJob=_script_job)
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


RECORDER = Recorder()


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
