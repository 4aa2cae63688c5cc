"""opNeuralGasScatter: a Maya DG node placing points evenly on a mesh with neural gas.

Thin glue (Python API 2.0) over :mod:`openpipeline.dg.scatter_node`: the input mesh
(``inMesh``, e.g. from a shape's ``worldMesh[0]``) is read as arrays, the node logic answers
with points, and the outputs carry them as Maya array data: ``outPositions``
(pointArray), ``outNormals`` (vectorArray), ``outIds`` and ``outFaceIds`` (intArray),
``outBarycentrics`` (doubleArray, three per point), for a MASH Python node, an instancer
helper or a script to read.

When only the mesh's vertex positions change (a deformer, a skin), the points follow it
through their face ids and barycentrics at once, without a new scatter. The hidden,
storable output ``resultKey`` keeps the result the node is bound to, so a scene reopened
in a deformed pose rebinds to its original scatter. It is read back (the value the scene
file set) before each computation writes it again.

Results land as in opDipTexture: a worker process, a deferred bump of the hidden
``resultTick`` input to dirty the outputs, progress on the main progress bar, and a
pre-removal callback cancelling the job when the node is deleted.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import maya.api.OpenMaya as om
import maya.utils  # type: ignore[import-not-found]  # types-maya-strict has no maya.utils stub
import numpy as np
from maya import cmds, mel

from openpipeline import __version__
from openpipeline.core.selection import selected_project_cache
from openpipeline.dg import ids
from openpipeline.dg.caches import CacheByRoot
from openpipeline.dg.scatter_node import METHOD_NAMES, ScatterInputs, ScatterNode, ScatterOutputs, corner_uvs
from openpipeline.dg.state import STATUSES
from openpipeline.engine.cache import ResultCache, cache_root

if TYPE_CHECKING:
    from openpipeline.engine.worker import BackgroundJob

# Every live node of this type, to cancel their jobs at unload; weak, so a node Maya has
# destroyed (and whose pre-removal callback is gone) is not kept alive by this list.
_live: weakref.WeakValueDictionary[int, OpNeuralGasScatter] = weakref.WeakValueDictionary()
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
                         status=f"{node}: {handle.message or 'scattering'}")
    elif node in _bar_shown:
        cmds.progressBar(bar, edit=True, endProgress=True)
        _bar_shown.clear()


class OpNeuralGasScatter(om.MPxNode):
    """The node; its attribute objects are class attributes set by :func:`initialize`."""

    in_mesh = om.MObject()
    count = om.MObject()
    spacing = om.MObject()
    density_path = om.MObject()
    density_channel = om.MObject()
    seed = om.MObject()
    method = om.MObject()
    result_tick = om.MObject()
    out_positions = om.MObject()
    out_normals = om.MObject()
    out_ids = om.MObject()
    out_face_ids = om.MObject()
    out_barycentrics = om.MObject()
    status = om.MObject()
    progress = om.MObject()
    status_message = om.MObject()
    result_key = om.MObject()

    def __init__(self) -> None:
        super().__init__()
        self.logic = ScatterNode(on_change=self._result_changed)
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
            plug = om.MPlug(self._handle.object(), OpNeuralGasScatter.result_tick)
            plug.setInt(plug.asInt() + 1)  # dirties every output (attributeAffects)

    def compute(self, plug: om.MPlug, data: om.MDataBlock) -> Any:  # name required by Maya
        """Answer the output plugs; None for any other (Maya's rule)."""
        if plug.attribute() not in _outputs():
            return None
        # Before it is written again: the binding the scene file stored (a real Maya must
        # confirm that outputValue gives the loaded value of a storable output here).
        stored = data.outputValue(OpNeuralGasScatter.result_key).asString()
        outputs = self.logic.evaluate(read_inputs(data, stored), _the_cache(), _batch())
        write_outputs(data, outputs)
        for attribute in _outputs():
            data.setClean(attribute)
        return self


def _outputs() -> list[om.MObject]:
    node = OpNeuralGasScatter
    return [node.out_positions, node.out_normals, node.out_ids, node.out_face_ids, node.out_barycentrics,
            node.status, node.progress, node.status_message, node.result_key]


def read_mesh(mesh: om.MObject) -> tuple[Any, Any, Any]:
    """(vertices (V, 3), triangles (T, 3), corner UVs (T, 3, 2) or None) of a mesh data object."""
    fn = om.MFnMesh(mesh)
    # The stubs type the space as MSpace; API 2.0 takes its om.MSpace.k* int constant.
    points = fn.getPoints(om.MSpace.kObject)  # type: ignore[arg-type]
    vertices = np.array([(points[i].x, points[i].y, points[i].z) for i in range(len(points))],
                        np.float64).reshape(-1, 3)
    _counts, triangles = fn.getTriangles()
    triangle_counts, offsets = fn.getTriangleOffsets()
    uv_counts, uv_ids = fn.getAssignedUVs()
    us, vs = fn.getUVs()
    uvs = corner_uvs(list(triangle_counts), list(offsets), list(uv_counts), list(uv_ids), list(us), list(vs))
    return vertices, np.array(list(triangles), np.int64).reshape(-1, 3), uvs


def read_inputs(data: om.MDataBlock, stored: str) -> ScatterInputs:
    """The input attributes as the node logic takes them."""
    node = OpNeuralGasScatter
    data.inputValue(node.result_tick)  # read so that the tick is an input of this evaluation
    mesh = data.inputValue(node.in_mesh).asMesh()
    if mesh.isNull():
        vertices, faces, uvs = np.zeros((0, 3)), np.zeros((0, 3), np.int64), None
    else:
        vertices, faces, uvs = read_mesh(mesh)
    return ScatterInputs(
        vertices=vertices, faces=faces, corner_uvs=uvs,
        count=data.inputValue(node.count).asInt(),
        spacing=data.inputValue(node.spacing).asDouble(),
        density_path=data.inputValue(node.density_path).asString(),
        density_channel=data.inputValue(node.density_channel).asString(),
        seed=data.inputValue(node.seed).asInt(),
        method=METHOD_NAMES[data.inputValue(node.method).asShort()],
        result_key=stored,
    )


def write_outputs(data: om.MDataBlock, outputs: ScatterOutputs) -> None:
    """The node logic's arrays into Maya array data on the output attributes."""
    node = OpNeuralGasScatter
    points = om.MPointArray([om.MPoint(*p) for p in outputs.positions.tolist()])
    normals = om.MVectorArray([om.MVector(*n) for n in outputs.normals.tolist()])
    arrays = [
        (node.out_positions, om.MFnPointArrayData().create(points)),
        (node.out_normals, om.MFnVectorArrayData().create(normals)),
        (node.out_ids, om.MFnIntArrayData().create(om.MIntArray(outputs.ids.tolist()))),
        (node.out_face_ids, om.MFnIntArrayData().create(om.MIntArray(outputs.face_ids.tolist()))),
        (node.out_barycentrics,
         om.MFnDoubleArrayData().create(om.MDoubleArray(outputs.barycentrics.ravel().tolist()))),
    ]
    for attribute, value in arrays:
        data.outputValue(attribute).setMObject(value)
    data.outputValue(node.status).setShort(outputs.status_index)
    data.outputValue(node.progress).setDouble(outputs.progress)
    data.outputValue(node.status_message).setString(outputs.message)
    data.outputValue(node.result_key).setString(outputs.result_key)


def creator() -> OpNeuralGasScatter:
    return OpNeuralGasScatter()


def _typed(long: str, short: str, kind: int, output: bool = False) -> om.MObject:
    attr = om.MFnTypedAttribute()
    default = om.MFnStringData().create("") if kind == om.MFnData.kString else om.MObject.kNullObj
    obj: om.MObject = attr.create(long, short, kind, default)
    _flags(attr, output)
    return obj


def _number(long: str, short: str, kind: int, default: float) -> om.MObject:
    attr = om.MFnNumericAttribute()
    obj: om.MObject = attr.create(long, short, kind, default)
    _flags(attr, False)
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


def _create_attributes() -> tuple[list[om.MObject], list[om.MObject]]:
    """Every attribute: (inputs, outputs)."""
    numeric, data = om.MFnNumericData, om.MFnData
    node = OpNeuralGasScatter
    node.in_mesh = _typed("inMesh", "im", data.kMesh)
    node.count = _number("count", "cnt", numeric.kInt, 1000)
    node.spacing = _number("spacing", "spc", numeric.kDouble, 0.0)
    node.density_path = _typed("densityPath", "dp", data.kString)
    om.MFnTypedAttribute(node.density_path).usedAsFilename = True
    node.density_channel = _typed("densityChannel", "dc", data.kString)
    node.seed = _number("seed", "sd", numeric.kInt, 0)
    node.method = _enum("method", "mth", METHOD_NAMES)
    node.result_tick = _number("resultTick", "rtk", numeric.kInt, 0)
    tick = om.MFnNumericAttribute(node.result_tick)
    tick.hidden, tick.storable = True, False
    node.out_positions = _typed("outPositions", "ops", data.kPointArray, output=True)
    node.out_normals = _typed("outNormals", "onm", data.kVectorArray, output=True)
    node.out_ids = _typed("outIds", "oid", data.kIntArray, output=True)
    node.out_face_ids = _typed("outFaceIds", "ofi", data.kIntArray, output=True)
    node.out_barycentrics = _typed("outBarycentrics", "obc", data.kDoubleArray, output=True)
    node.status = _enum("status", "sts", STATUSES, output=True)
    node.progress = _number("progress", "prg", numeric.kDouble, 0.0)
    _flags(om.MFnNumericAttribute(node.progress), True)
    node.status_message = _typed("statusMessage", "smg", data.kString, output=True)
    node.result_key = _typed("resultKey", "rk", data.kString, output=True)
    key = om.MFnTypedAttribute(node.result_key)
    key.storable, key.writable, key.hidden = True, True, True  # saved and loaded with the scene
    inputs = [node.in_mesh, node.count, node.spacing, node.density_path, node.density_channel, node.seed,
              node.method, node.result_tick]
    return inputs, _outputs()


def initialize() -> None:
    """Create the attributes and say which inputs affect which outputs."""
    inputs, outputs = _create_attributes()
    for attribute in inputs + outputs:
        om.MPxNode.addAttribute(attribute)
    for source in inputs:
        for target in outputs:
            om.MPxNode.attributeAffects(source, target)


def initializePlugin(plugin: om.MObject) -> None:  # name required by Maya
    fn = om.MFnPlugin(plugin, ids.VENDOR, __version__, "Any")
    fn.registerNode(ids.SCATTER_NODE, om.MTypeId(ids.TYPE_IDS[ids.SCATTER_NODE]), creator, initialize,
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
    om.MFnPlugin(plugin).deregisterNode(om.MTypeId(ids.TYPE_IDS[ids.SCATTER_NODE]))
