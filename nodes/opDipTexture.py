"""opDipTexture: a Maya DG node restoring a texture (denoise, inpaint, upscale) with Deep Image Prior.

Thin glue (Python API 2.0) over :mod:`openpipeline.dg.texture_node`: read the input
attributes, ask the node logic, write the outputs. Nothing long runs in ``compute``: the
answer comes from the result cache at once, or the engine runs in a worker process and
the node reports ``running`` (keeping its last good path) until the result lands. Then
the worker's reader thread asks Maya's main thread (``maya.utils.executeDeferred``) to
bump the hidden ``resultTick`` input, which dirties the outputs, and the next evaluation
answers from the cache. In batch (``mayapy``) the engine runs inside ``compute``.

Deletion: a pre-removal callback (``MNodeMessage.addNodePreRemovalCallback``, which API 2.0
has) cancels the node's job; a deletion that is undone brings the node back and its next
evaluation starts the job again. ``MPxNode`` in API 2.0 has ``postConstructor`` but no
destructor hook Maya guarantees to call, hence the callback.

Feed ``outputPath`` into a ``file`` node's ``fileTextureName`` (``opRestoreTexture`` does).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import maya.api.OpenMaya as om
import maya.utils  # type: ignore[import-not-found]  # types-maya-strict has no maya.utils stub
from maya import cmds, mel

from openpipeline import __version__
from openpipeline.core.selection import selected_project_cache
from openpipeline.dg import ids
from openpipeline.dg.caches import CacheByRoot
from openpipeline.dg.state import STATUSES
from openpipeline.dg.texture_node import OPERATIONS, TextureInputs, TextureNode
from openpipeline.engine.cache import ResultCache, cache_root

if TYPE_CHECKING:
    from openpipeline.engine.worker import BackgroundJob

# Every live node of this type, to cancel their jobs at unload; weak, so a node Maya has
# destroyed (and whose pre-removal callback is gone) is not kept alive by this list.
_live: weakref.WeakValueDictionary[int, OpDipTexture] = weakref.WeakValueDictionary()
# The cache every node uses: the root resolved again every few seconds (a project switch
# moves the nodes to the new project's cache), one ResultCache per root.
_caches = CacheByRoot(lambda: cache_root(selected_project_cache(strict=False)))
_bar_shown: list[str] = []  # the node whose job holds Maya's main progress bar, if any


def maya_useNewAPI() -> None:  # name required by Maya
    """Tells Maya this plug-in uses the Python API 2.0."""


def _the_cache() -> ResultCache:
    return _caches()


def _batch() -> bool:
    return bool(om.MGlobal.mayaState() != om.MGlobal.kInteractive)


def show_progress(node: str, handle: BackgroundJob | None) -> None:
    """A running job's progress on Maya's main progress bar (beside the help line); main thread only."""
    bar = mel.eval("$tmp = $gMainProgressBar")  # type: ignore[no-untyped-call]  # stubs leave mel.eval untyped
    if handle is not None and handle.state == "running":
        if not _bar_shown:
            cmds.progressBar(bar, edit=True, beginProgress=True, isInterruptable=False, maxValue=100)
            _bar_shown.append(node)
        cmds.progressBar(bar, edit=True, progress=int(handle.fraction * 100),
                         status=f"{node}: {handle.message or 'restoring'}")
    elif node in _bar_shown:
        cmds.progressBar(bar, edit=True, endProgress=True)
        _bar_shown.clear()


class OpDipTexture(om.MPxNode):
    """The node; its attribute objects are class attributes set by :func:`initialize`."""

    file_path = om.MObject()
    operation = om.MObject()
    mask_path = om.MObject()
    factor = om.MObject()
    sigma = om.MObject()
    seed = om.MObject()
    time_budget = om.MObject()
    seamless = om.MObject()
    max_iterations = om.MObject()
    result_tick = om.MObject()
    output_path = om.MObject()
    status = om.MObject()
    progress = om.MObject()
    status_message = om.MObject()

    def __init__(self) -> None:
        super().__init__()
        self.logic = TextureNode(on_change=self._result_changed)
        self._handle: om.MObjectHandle | None = None
        self.callback: Any = None

    def postConstructor(self) -> None:  # name required by Maya
        node = self.thisMObject()
        self._handle = om.MObjectHandle(node)
        self.callback = om.MNodeMessage.addNodePreRemovalCallback(node, self._removed)
        _live[id(self)] = self

    def _removed(self, *_args: Any) -> None:
        self.logic.dispose()

    def _result_changed(self) -> None:
        """Called from the worker's reader thread: hand the dirtying to the main thread."""
        maya.utils.executeDeferred(self._dirty)

    def _dirty(self) -> None:
        """Main thread: show the progress; once the job has ended, dirty the outputs.

        Progress alone does not dirty the node (an evaluation reads the whole input again):
        the ``progress`` attribute is refreshed when the node evaluates; the progress bar
        shows the running job live.
        """
        if self._handle is None or not self._handle.isValid():
            return
        handle = self.logic.state.handle
        show_progress(self.name(), handle)
        if handle is None or handle.state != "running":
            plug = om.MPlug(self._handle.object(), OpDipTexture.result_tick)
            plug.setInt(plug.asInt() + 1)  # dirties every output (attributeAffects)

    def compute(self, plug: om.MPlug, data: om.MDataBlock) -> Any:  # name required by Maya
        """Answer the output plugs; None for any other (Maya's rule)."""
        if plug.attribute() not in _outputs():
            return None
        outputs = self.logic.evaluate(read_inputs(data), _the_cache(), _batch())
        data.outputValue(OpDipTexture.output_path).setString(outputs.output_path)
        data.outputValue(OpDipTexture.status).setShort(outputs.status_index)
        data.outputValue(OpDipTexture.progress).setDouble(outputs.progress)
        data.outputValue(OpDipTexture.status_message).setString(outputs.message)
        for attribute in _outputs():
            data.setClean(attribute)
        return self


def _outputs() -> list[om.MObject]:
    return [OpDipTexture.output_path, OpDipTexture.status, OpDipTexture.progress, OpDipTexture.status_message]


def read_inputs(data: om.MDataBlock) -> TextureInputs:
    """The input attributes as the node logic takes them."""
    def value(attribute: om.MObject) -> om.MDataHandle:
        return data.inputValue(attribute)

    data.inputValue(OpDipTexture.result_tick)  # read so that the tick is an input of this evaluation
    return TextureInputs(
        file_path=value(OpDipTexture.file_path).asString(),
        operation=OPERATIONS[value(OpDipTexture.operation).asShort()],
        mask_path=value(OpDipTexture.mask_path).asString(),
        factor=value(OpDipTexture.factor).asInt(),
        sigma=value(OpDipTexture.sigma).asDouble(),
        seed=value(OpDipTexture.seed).asInt(),
        time_budget=value(OpDipTexture.time_budget).asDouble(),
        seamless=value(OpDipTexture.seamless).asBool(),
        max_iterations=value(OpDipTexture.max_iterations).asInt(),
    )


def creator() -> OpDipTexture:
    return OpDipTexture()


def _string(long: str, short: str, output: bool = False, filename: bool = False) -> om.MObject:
    attr = om.MFnTypedAttribute()
    obj: om.MObject = attr.create(long, short, om.MFnData.kString, om.MFnStringData().create(""))
    attr.usedAsFilename = filename
    _flags(attr, output)
    return obj


def _number(long: str, short: str, kind: int, default: float, output: bool = False) -> om.MObject:
    attr = om.MFnNumericAttribute()
    obj: om.MObject = attr.create(long, short, kind, default)
    _flags(attr, output)
    return obj


def _enum(long: str, short: str, fields: tuple[str, ...], output: bool = False) -> om.MObject:
    attr = om.MFnEnumAttribute()
    obj: om.MObject = attr.create(long, short, 0)
    for index, field in enumerate(fields):
        attr.addField(field, index)
    _flags(attr, output)
    return obj


def _flags(attr: om.MFnAttribute, output: bool) -> None:
    attr.writable = not output
    attr.storable = not output
    attr.keyable = False


def initialize() -> None:
    """Create the attributes and say which inputs affect which outputs."""
    numeric = om.MFnNumericData
    node = OpDipTexture
    node.file_path = _string("filePath", "fp", filename=True)
    node.operation = _enum("operation", "opr", OPERATIONS)
    node.mask_path = _string("maskPath", "mp", filename=True)
    node.factor = _number("factor", "fac", numeric.kInt, 2)
    node.sigma = _number("sigma", "sg", numeric.kDouble, 0.0)
    node.seed = _number("seed", "sd", numeric.kInt, 0)
    node.time_budget = _number("timeBudget", "tb", numeric.kDouble, 0.0)
    node.seamless = _number("seamless", "sml", numeric.kBoolean, 0)
    node.max_iterations = _number("maxIterations", "mxi", numeric.kInt, 0)
    node.result_tick = _number("resultTick", "rtk", numeric.kInt, 0)
    om.MFnNumericAttribute(node.result_tick).hidden = True
    om.MFnNumericAttribute(node.result_tick).storable = False
    node.output_path = _string("outputPath", "op", output=True)
    node.status = _enum("status", "sts", STATUSES, output=True)
    node.progress = _number("progress", "prg", numeric.kDouble, 0.0, output=True)
    node.status_message = _string("statusMessage", "smg", output=True)
    inputs = [node.file_path, node.operation, node.mask_path, node.factor, node.sigma, node.seed,
              node.time_budget, node.seamless, node.max_iterations, node.result_tick]
    for attribute in inputs + _outputs():
        om.MPxNode.addAttribute(attribute)
    for source in inputs:
        for target in _outputs():
            om.MPxNode.attributeAffects(source, target)


def initializePlugin(plugin: om.MObject) -> None:  # name required by Maya
    fn = om.MFnPlugin(plugin, ids.VENDOR, __version__, "Any")
    fn.registerNode(ids.TEXTURE_NODE, om.MTypeId(ids.TYPE_IDS[ids.TEXTURE_NODE]), creator, initialize,
                    om.MPxNode.kDependNode)


def uninitializePlugin(plugin: om.MObject) -> None:  # name required by Maya
    for node in list(_live.values()):
        node.logic.dispose()
        if node.callback is not None:
            try:
                om.MMessage.removeCallback(node.callback)
            except RuntimeError:  # its node is gone, and Maya took the callback with it
                pass
    _live.clear()
    om.MFnPlugin(plugin).deregisterNode(om.MTypeId(ids.TYPE_IDS[ids.TEXTURE_NODE]))
