"""OpenPipeline Maya plug-in: the node plug-ins, the commands, the menu (skipped in batch mode).

Thin glue. At load it loads the two node plug-ins of ``nodes/`` (unless already
loaded; unloaded again at unload), registers the commands below and builds the menu,
whose items call functions of ``openpipeline.host.menu`` (plain Python, tested without
Maya through the ``Host`` protocol).

Commands (MEL and Python: ``opScatter -count 500``, ``cmds.opScatter(count=500)``):

- ``opRestoreTexture [-operation denoise|inpaint|upscale] [-factor 2|4|8] [-sigma S] [-seed N]
  [-timeBudget SEC] [-now]``: for each selected ``file`` node, an ``opDipTexture`` reading
  the file node's path and feeding the restored one to its ``fileTextureName``.
  Undoable. ``-now`` runs the engine first, synchronously, so the result is there at once.
- ``opScatter [-count N | -spacing D] [-seed N] [-method batch-ng|online-ng|gng]
  [-density PATH] [-mash | -instancer]``: an ``opNeuralGasScatter`` on the selected
  mesh. Undoable (the node and its connection); ``-mash`` / ``-instancer`` then build
  instancing on its points with ``maya.cmds`` (not undone with it: see :func:`wire_mash`).
- The pipeline verbs of the menu (``opSaveWorkshop``, ``opMaster``, ``opCheckOut``,
  ``opCheckIn``, ``opHistory``...; names in :mod:`openpipeline.dg.ids`): file operations,
  not undoable.

What only a real Maya can confirm is said beside the code that does it; the rest is
checked by ``tests/test_plugin.py`` against a recording stand-in for the Maya API and by
mypy against the Maya stubs.

Load with ``cmds.loadPlugin("openPipeline.py")`` once the module is installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import maya.api.OpenMaya as om
from maya import cmds, mel

from openpipeline import __version__
from openpipeline.dg import ids
from openpipeline.engine.errors import EngineError

T = TypeVar("T")

VENDOR = ids.VENDOR
MENU_NAME = "openPipelineMenu"
NODES_FOLDER = Path(__file__).resolve().parent.parent / "nodes"

MENU_ITEMS: list[tuple[str, str, str]] = [
    # label, annotation, python command
    ("Browser...", "The OpenPipeline browser window (docked)",
     "import openpipeline.host.menu as m; m.browser()"),
    ("Set Item...", "Tie the open scene to a pipeline item",
     "import openpipeline.host.menu as m; m.set_item()"),
    ("Open...", "Open an item's latest workshop (or its master)",
     "import openpipeline.host.menu as m; m.open_item()"),
    ("", "", ""),
    ("Save Workshop...", "Save the scene as the item's next workshop",
     "import openpipeline.host.menu as m; m.save_workshop()"),
    ("Master...", "Save a workshop and master it",
     "import openpipeline.host.menu as m; m.master()"),
    ("Snapshot", "Record a viewport snapshot as the item's preview",
     "import openpipeline.host.menu as m; m.snapshot()"),
    ("Playblast", "Record a playblast as the item's preview",
     "import openpipeline.host.menu as m; m.playblast()"),
    ("", "", ""),
    ("Reference Master...", "Reference an item's master",
     "import openpipeline.host.menu as m; m.bring_in('reference')"),
    ("Import Master...", "Import an item's master",
     "import openpipeline.host.menu as m; m.bring_in('import')"),
    ("", "", ""),
    ("Check Out", "Lock the item for yourself",
     "import openpipeline.host.menu as m; m.check_out(True)"),
    ("Check In", "Release your lock",
     "import openpipeline.host.menu as m; m.check_in()"),
    ("History", "Print the item's history",
     "import openpipeline.host.menu as m; m.history()"),
    ("List Items...", "The project's items as text, then open one",
     "import openpipeline.host.menu as m; m.list_items()"),
    ("", "", ""),
    ("Restore Texture", "An opDipTexture for each selected file node",
     "import openpipeline.host.menu as m; m.restore_texture()"),
    ("Scatter", "An opNeuralGasScatter on the selected mesh",
     "import openpipeline.host.menu as m; m.scatter()"),
]

_scene_jobs: list[int] = []  # the scriptJob that follows opened scenes (killed at unload)
_loaded_nodes: list[str] = []  # node plug-ins this plug-in loaded (and unloads)


def maya_useNewAPI() -> None:  # name required by Maya
    """Tells Maya this plug-in uses the Python API 2.0."""


def _scene_opened() -> None:
    importlib.import_module("openpipeline.host.menu").scene_opened()


def _follow_opened_scenes() -> None:
    """After File > Open too, point Maya at the scene's project (dirmap, workspace) and keep
    its check-out alive: ``host.menu.scene_opened`` on Maya's ``SceneOpened`` event."""
    if not cmds.about(batch=True):
        _scene_jobs.append(int(cmds.scriptJob(event=("SceneOpened", _scene_opened))))


def _stop_following_scenes() -> None:
    while _scene_jobs:
        job = _scene_jobs.pop()
        if cmds.scriptJob(exists=job):
            cmds.scriptJob(kill=job, force=True)


def _build_menu() -> None:
    if cmds.about(batch=True):
        return
    if cmds.menu(MENU_NAME, exists=True):
        cmds.deleteUI(MENU_NAME)
    main_window = mel.eval("$tmp = $gMainWindow")  # type: ignore[no-untyped-call]  # stubs leave mel.eval untyped
    cmds.menu(MENU_NAME, parent=main_window, tearOff=True, label="OpenPipeline")
    for label, annotation, command in MENU_ITEMS:
        if not label:
            cmds.menuItem(divider=True, parent=MENU_NAME)
        else:
            cmds.menuItem(label=label, annotation=annotation, command=command,
                          sourceType="python", parent=MENU_NAME)


# ---- the pipeline verbs --------------------------------------------------------------------

def pipeline_command(name: str) -> type[om.MPxCommand]:
    """An MPxCommand class running the ``openpipeline.host.menu`` action of command ``name``."""
    function, arguments = ids.PIPELINE_COMMANDS[name]

    class PipelineCommand(om.MPxCommand):
        def doIt(self, _args: Any) -> None:  # name required by Maya
            menu = importlib.import_module("openpipeline.host.menu")
            getattr(menu, function)(*arguments)

        def isUndoable(self) -> bool:  # name required by Maya
            return False  # a file operation: saved, mastered or locked on disk, not in the scene

    PipelineCommand.__name__ = f"{name}Command"
    return PipelineCommand


# ---- opRestoreTexture ---------------------------------------------------------------------

RESTORE_FLAGS: list[tuple[str, str, int]] = [
    ("-op", "-operation", om.MSyntax.kString),
    ("-f", "-factor", om.MSyntax.kLong),
    ("-s", "-sigma", om.MSyntax.kDouble),
    ("-sd", "-seed", om.MSyntax.kLong),
    ("-tb", "-timeBudget", om.MSyntax.kDouble),
    ("-n", "-now", om.MSyntax.kNoArg),
]

SCATTER_FLAGS: list[tuple[str, str, int]] = [
    ("-c", "-count", om.MSyntax.kLong),
    ("-sp", "-spacing", om.MSyntax.kDouble),
    ("-sd", "-seed", om.MSyntax.kLong),
    ("-m", "-method", om.MSyntax.kString),
    ("-d", "-density", om.MSyntax.kString),
    ("-ms", "-mash", om.MSyntax.kNoArg),
    ("-in", "-instancer", om.MSyntax.kNoArg),
]


def _syntax(flags: list[tuple[str, str, int]]) -> Callable[[], om.MSyntax]:
    def create() -> om.MSyntax:
        syntax = om.MSyntax()
        for short, long, kind in flags:
            if kind == om.MSyntax.kNoArg:
                syntax.addFlag(short, long)
            else:
                syntax.addFlag(short, long, kind)
        return syntax
    return create


def flag_values(database: om.MArgDatabase, flags: list[tuple[str, str, int]]) -> dict[str, Any]:
    """The flags given, by long name without the dash (``{"count": 500, "now": True}``)."""
    read = {om.MSyntax.kString: database.flagArgumentString, om.MSyntax.kLong: database.flagArgumentInt,
            om.MSyntax.kDouble: database.flagArgumentDouble}
    values: dict[str, Any] = {}
    for short, long, kind in flags:
        if database.isFlagSet(short):
            values[long[1:]] = True if kind == om.MSyntax.kNoArg else read[kind](short, 0)
    return values


def selected(kind: int) -> list[om.MObject]:
    """The selected nodes with function set ``kind`` (a transform counts for its shape)."""
    selection = om.MGlobal.getActiveSelectionList()
    found = []
    for index in range(selection.length()):
        node = selection.getDependNode(index)
        if node.hasFn(om.MFn.kTransform):
            path = selection.getDagPath(index)
            try:
                path.extendToShape()
            except RuntimeError:
                continue  # a transform without a single shape
            node = path.node()
        if node.hasFn(kind):
            found.append(node)
    return found


def fail(message: str) -> NoReturn:
    """Show ``message`` (one sentence) as the command's error and stop the command."""
    om.MGlobal.displayError(message)
    raise RuntimeError(message)


def checked(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)``; a refused value or an engine failure becomes the command's error."""
    try:
        return function(*args)
    except (ValueError, EngineError) as exc:
        fail(str(exc))


def _plug(node: om.MObject, name: str) -> om.MPlug:
    plug: om.MPlug = om.MFnDependencyNode(node).findPlug(name, False)
    return plug


def texture_settings(values: dict[str, Any]) -> dict[str, Any]:
    """opRestoreTexture's flags as ``opDipTexture`` attribute values (checked by the node logic)."""
    from openpipeline.dg.texture_node import OPERATIONS, TextureInputs

    operation = values.get("operation", "denoise")
    if operation not in OPERATIONS:
        raise ValueError(f"Operation '{operation}' is not known; use {', '.join(OPERATIONS)}.")
    settings = {"operation": operation, "factor": values.get("factor", 2), "sigma": values.get("sigma", 0.0),
                "seed": values.get("seed", 0), "timeBudget": values.get("timeBudget", 0.0)}
    TextureInputs(operation=operation, factor=settings["factor"], sigma=settings["sigma"],
                  seed=settings["seed"], time_budget=settings["timeBudget"]).params()
    return settings


def _set_values(modifier: om.MDGModifier, node: om.MObject, settings: dict[str, Any],
                enums: dict[str, tuple[str, ...]]) -> None:
    """Queue ``settings`` (attribute -> value) onto ``node`` in ``modifier``."""
    for name, value in settings.items():
        plug = _plug(node, name)
        if name in enums:
            modifier.newPlugValueShort(plug, enums[name].index(value))
        elif isinstance(value, str):
            modifier.newPlugValueString(plug, value)
        elif isinstance(value, float):
            modifier.newPlugValueDouble(plug, value)
        else:
            modifier.newPlugValueInt(plug, int(value))


class RestoreTextureCommand(om.MPxCommand):
    """opRestoreTexture: an opDipTexture between each selected file node and its texture."""

    def __init__(self) -> None:
        super().__init__()
        self.modifier = om.MDGModifier()

    def doIt(self, args: Any) -> None:  # name required by Maya
        from openpipeline.dg.texture_node import OPERATIONS

        values = flag_values(om.MArgDatabase(self.syntax(), args), RESTORE_FLAGS)
        settings = checked(texture_settings, values)
        files = [file for file in selected(om.MFn.kFileTexture)
                 if not _plug(file, "fileTextureName").isDestination]  # not one restored already
        if not files:
            fail("Select one or more file nodes whose texture is not restored yet.")
        paths = [_plug(file, "fileTextureName").asString() for file in files]
        if values.get("now"):
            # Before any change to the scene: all restored, or an error and nothing changed.
            results = [checked(_restore_now, path, settings) for path in paths]
            om.MPxCommand.clearResult()
            for result in results:
                om.MPxCommand.appendToResult(result)
        # MDGModifier: doIt may be called again after more operations are queued; undoIt
        # takes back all of them. Nodes are created first so their plugs exist.
        nodes = [self.modifier.createNode(ids.TEXTURE_NODE) for _ in files]
        self.modifier.doIt()
        for file, node, path in zip(files, nodes, paths, strict=True):
            self.modifier.renameNode(node, f"{om.MFnDependencyNode(file).name()}_restore")
            _set_values(self.modifier, node, {"filePath": path, **settings}, {"operation": OPERATIONS})
            self.modifier.connect(_plug(node, "outputPath"), _plug(file, "fileTextureName"))
        self.modifier.doIt()

    def redoIt(self) -> None:  # name required by Maya
        self.modifier.doIt()

    def undoIt(self) -> None:  # name required by Maya
        self.modifier.undoIt()

    def isUndoable(self) -> bool:  # name required by Maya
        return True


def _restore_now(path: str, settings: dict[str, Any]) -> str:
    """Run the engine on ``path`` now (or take its cached result); the restored path."""
    from openpipeline.core.selection import selected_project_cache
    from openpipeline.dg.texture_node import TextureInputs, restore_now
    from openpipeline.engine.cache import ResultCache, cache_root

    inputs = TextureInputs(file_path=path, operation=settings["operation"], factor=settings["factor"],
                           sigma=settings["sigma"], seed=settings["seed"], time_budget=settings["timeBudget"])
    return restore_now(inputs, ResultCache(cache_root(selected_project_cache(strict=False))))


# ---- opScatter ----------------------------------------------------------------------------

def scatter_settings(values: dict[str, Any]) -> dict[str, Any]:
    """opScatter's flags as ``opNeuralGasScatter`` attribute values."""
    from openpipeline.dg.scatter_node import METHOD_NAMES

    method = values.get("method", "batch-ng")
    if method not in METHOD_NAMES:
        raise ValueError(f"Method '{method}' is not known; use {', '.join(METHOD_NAMES)}.")
    if "count" in values and "spacing" in values:
        raise ValueError("Give -count or -spacing, not both.")
    if values.get("mash") and values.get("instancer"):
        raise ValueError("Give -mash or -instancer, not both.")
    settings: dict[str, Any] = {"method": method, "seed": values.get("seed", 0)}
    settings.update({name: values[name] for name in ("count", "spacing") if name in values})
    if "density" in values:
        settings["densityPath"] = values["density"]
    return settings


class ScatterCommand(om.MPxCommand):
    """opScatter: an opNeuralGasScatter on the selected mesh (``worldMesh[0]`` -> ``inMesh``)."""

    def __init__(self) -> None:
        super().__init__()
        self.modifier = om.MDGModifier()

    def doIt(self, args: Any) -> None:  # name required by Maya
        from openpipeline.dg.scatter_node import METHOD_NAMES

        values = flag_values(om.MArgDatabase(self.syntax(), args), SCATTER_FLAGS)
        settings = checked(scatter_settings, values)
        meshes = selected(om.MFn.kMesh)
        if not meshes:
            fail("Select the mesh to scatter points on (then any objects to instance on them).")
        mesh = meshes[0]  # the first selected; what else is selected are the prototypes to instance
        prototypes = (cmds.ls(selection=True) or [])[1:]
        if (values.get("mash") or values.get("instancer")) and not prototypes:
            fail("Select the objects to instance after the mesh, or leave out -mash and -instancer.")
        node = self.modifier.createNode(ids.SCATTER_NODE)
        self.modifier.doIt()
        _set_values(self.modifier, node, settings, {"method": METHOD_NAMES})
        world = _plug(mesh, "worldMesh").elementByLogicalIndex(0)
        self.modifier.connect(world, _plug(node, "inMesh"))
        self.modifier.doIt()
        name = om.MFnDependencyNode(node).name()
        om.MPxCommand.setResult(name)
        if values.get("mash"):
            wire_mash(name, prototypes)
        elif values.get("instancer"):
            wire_instancer(name, prototypes)

    def redoIt(self) -> None:  # name required by Maya
        self.modifier.doIt()

    def undoIt(self) -> None:  # name required by Maya
        self.modifier.undoIt()

    def isUndoable(self) -> bool:  # name required by Maya
        return True


# A MASH Python node's script: the scatter node's points as MASH's positions. MASH runs it
# at every evaluation of the network with ``thisNode`` set (Maya's MASH documentation).
MASH_SCRIPT = """import openMASH
import maya.api.OpenMaya as om
from maya import cmds
md = openMASH.MASHData(thisNode)
points = cmds.getAttr('{node}.outPositions') or []
for index in range(min(md.count(), len(points))):
    md.outPosition[index] = om.MVector(*points[index][:3])
md.setData()
"""


def wire_mash(node: str, prototypes: list[str]) -> str:
    """A MASH network instancing ``prototypes`` on ``node``'s points; returns the network's name.

    Only a real Maya (with MASH loaded) can confirm this wiring: the MASH API calls
    (``MASH.api.Network``, ``addNode("MASH_Python")``), the Python node's script, and that
    the extra ``opPoints`` connection re-evaluates the network when the points change. It
    runs through ``maya.cmds`` after the node is made, so undoing opScatter does not remove it.
    """
    import MASH.api as mash  # type: ignore[import-not-found]  # MASH ships with Maya, no stubs

    cmds.select(prototypes or [], replace=True)
    network = mash.Network()
    network.createNetwork(name=f"{node}_MASH", geometry="Instancer")
    count = len(cmds.getAttr(f"{node}.outIds") or [])
    cmds.setAttr(f"{network.distribute}.pointCount", max(count, 1))
    python = network.addNode("MASH_Python")
    cmds.setAttr(f"{python.name}.pyScript", MASH_SCRIPT.format(node=node), type="string")
    cmds.addAttr(python.name, longName="opPoints", dataType="pointArray")
    cmds.connectAttr(f"{node}.outPositions", f"{python.name}.opPoints")
    return str(network.waiter)


def wire_instancer(node: str, prototypes: list[str]) -> str:
    """A particle instancer with ``prototypes`` on ``node``'s points as they are now.

    API 2.0 has no ``MFnArrayAttrsData``, which an instancer's ``inputPoints`` takes, so
    the points go through a particle object: a snapshot, which does not follow later
    deformation (use ``-mash`` for that). Only a real Maya can confirm the calls.
    """
    points = [tuple(p[:3]) for p in cmds.getAttr(f"{node}.outPositions") or []]
    particles = cmds.particle(position=points, name=f"{node}_points")[0]
    return str(cmds.particleInstancer(particles, addObject=True, object=prototypes))


# ---- load and unload ----------------------------------------------------------------------

def _commands() -> dict[str, type[om.MPxCommand]]:
    commands: dict[str, type[om.MPxCommand]] = {
        ids.RESTORE_TEXTURE_COMMAND: RestoreTextureCommand, ids.SCATTER_COMMAND: ScatterCommand}
    commands.update({name: pipeline_command(name) for name in ids.PIPELINE_COMMANDS})
    return commands


def _syntaxes() -> dict[str, Callable[[], om.MSyntax]]:
    return {ids.RESTORE_TEXTURE_COMMAND: _syntax(RESTORE_FLAGS), ids.SCATTER_COMMAND: _syntax(SCATTER_FLAGS)}


def _load_nodes() -> None:
    for file in ids.NODE_PLUGINS.values():
        if cmds.pluginInfo(file, query=True, loaded=True):
            continue
        path = NODES_FOLDER / file
        cmds.loadPlugin(str(path) if path.is_file() else file)  # else: found on MAYA_PLUG_IN_PATH
        _loaded_nodes.append(file)


def _unload_nodes() -> None:
    while _loaded_nodes:
        file = _loaded_nodes.pop()
        try:
            cmds.unloadPlugin(file)
        except RuntimeError:  # nodes of it are in the scene: Maya keeps it loaded
            om.MGlobal.displayWarning(f"{file} stays loaded: the scene still uses its node.")


def initializePlugin(plugin: om.MObject) -> None:  # name required by Maya
    fn = om.MFnPlugin(plugin, VENDOR, __version__, "Any")
    _load_nodes()
    syntaxes = _syntaxes()
    for name, command in _commands().items():
        if name in syntaxes:
            fn.registerCommand(name, command, syntaxes[name])
        else:
            fn.registerCommand(name, command)
    _build_menu()
    _follow_opened_scenes()


def uninitializePlugin(plugin: om.MObject) -> None:  # name required by Maya
    fn = om.MFnPlugin(plugin)
    for name in _commands():
        fn.deregisterCommand(name)
    if not cmds.about(batch=True) and cmds.menu(MENU_NAME, exists=True):
        cmds.deleteUI(MENU_NAME)
    _stop_following_scenes()
    _unload_nodes()
