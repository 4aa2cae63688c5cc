"""Scatter points over meshes with neural gas on a farm machine (plain python or mayapy).

Two ways in:

- meshes on the command line (OBJ, PLY, STL, glTF, ...; plain python is enough): one
  point file per mesh in the output folder, ``<mesh name>.npz`` (or ``--format``);
- ``--scene S.ma`` (mayapy only): every opNeuralGasScatter node of the scene computes
  (synchronously, as in any batch Maya) into the shared result cache, so the artists'
  Maya sessions and the render find the points there; with ``--out-dir`` each node's
  points are written to ``<node>.npz`` too.

Results come from, and go to, the shared result cache.

    python standalone/scatter_points.py rock.obj tree.obj --count 5000 --out-dir points/
    mayapy standalone/scatter_points.py --scene shot.ma --cache /farm/cache

Exit codes: 0 done, 2 bad input (one sentence on stderr, nothing written), 1 failure.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import openpipeline  # noqa: F401  # on PYTHONPATH inside Maya (module.mod) or when installed
except ImportError:  # run by path from a checkout: the package is the folder above
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpipeline import batch
from openpipeline.batch import ScriptError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

NAME = "scatter_points"
NODE_TYPE = "opNeuralGasScatter"
NODE_PLUGIN = "opNeuralGasScatter.py"
FORMATS = ("npz", "json", "usda", "usd", "usdc")
# the node's attributes read here (nodes/opNeuralGasScatter.py)
OUTPUTS = {"positions": "outPositions", "normals": "outNormals"}
FAILED = "failed"  # the node's status when its job failed (openpipeline.dg.state.STATUSES)


def build_parser() -> batch.ScriptParser:
    parser = batch.ScriptParser(
        prog="scatter_points.py",
        description="Scatter points evenly (or by a density map) over meshes, or compute the "
                    f"{NODE_TYPE} nodes of a Maya scene (mayapy), through the shared result cache.",
        epilog="Exit codes: 0 done, 2 bad input, 1 failure.",
    )
    parser.add_argument("meshes", nargs="*", metavar="MESH", help="mesh files: OBJ, PLY, STL, glTF, OFF...")
    parser.add_argument("--scene", help=f"a Maya scene whose {NODE_TYPE} nodes to compute (needs mayapy)")
    parser.add_argument("--out-dir", help="folder for the point files (one per mesh or node)")
    parser.add_argument("--format", choices=FORMATS, default="npz", help="point file format (default npz)")
    parser.add_argument("--count", type=int, help="number of points per mesh")
    parser.add_argument("--spacing", type=float, help="hexagonal spacing instead of a count")
    parser.add_argument("--density", help="density map image, looked up through the mesh UVs")
    parser.add_argument("--density-channel", help="channel name or index (default: R or the mean of RGB)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", default="batch-ng", choices=("batch-ng", "online-ng", "gng"))
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    batch.add_cache_options(parser)
    return parser


# -- meshes from files ----------------------------------------------------------------
def _mesh_params(args: argparse.Namespace) -> Any:
    from openpipeline.engine.scatter import ScatterParams

    if args.count is None and args.spacing is None:
        raise ScriptError("Give the number of points with --count N (or a --spacing).")
    params = ScatterParams(count=args.count, spacing=args.spacing, method=args.method, seed=args.seed)
    params.check()
    if args.count is not None:
        params.resolve_count(1.0)  # refuses a count below 1
    return params


def _check_meshes(args: argparse.Namespace) -> list[Path]:
    meshes = [Path(mesh) for mesh in args.meshes]
    for mesh in meshes:
        if not mesh.is_file():
            raise ScriptError(f"Mesh '{mesh}' does not exist; check the path.")
    stems = [mesh.stem for mesh in meshes]
    if len(set(stems)) != len(stems):
        raise ScriptError("Two meshes share a name, so their point files would collide; "
                          "scatter them in separate runs.")
    if args.density and not Path(args.density).is_file():
        raise ScriptError(f"Density map '{args.density}' does not exist; check the path.")
    if args.out_dir is None:
        raise ScriptError("Give the folder for the point files with --out-dir DIR.")
    if Path(args.out_dir).is_file():
        raise ScriptError(f"The output '{args.out_dir}' is a file; give a folder to --out-dir.")
    return meshes


def scatter_meshes(args: argparse.Namespace) -> None:
    """One point file per mesh, through the cache."""
    params = _mesh_params(args)
    meshes = _check_meshes(args)
    cache = batch.open_cache(args)

    from openpipeline.engine.jobs import deliver_cached
    from openpipeline.engine.scatter.job import ScatterJob, deliver

    progress = None if args.quiet else batch.percent_lines()
    out_dir = Path(args.out_dir)
    reused_count = 0
    for number, mesh in enumerate(meshes):
        job = ScatterJob(mesh=str(mesh), params=params, density=args.density,
                         density_channel=args.density_channel)
        share = 1 / len(meshes)
        step = batch.scaled(progress, number * share, share, mesh.name)
        target = out_dir / f"{mesh.stem}.{args.format}"

        def use(entry: Any, reused: bool, target: Path = target) -> tuple[Any, bool]:
            target.parent.mkdir(parents=True, exist_ok=True)
            return deliver(entry, str(target)), reused

        # held against another process's prune; without a cache: a folder removed after
        written, reused = deliver_cached(job, cache, use, step)
        reused_count += reused
        if reused:
            batch.report(progress, "cached", (number + 1) * share, mesh.name)
        print(f"{mesh.name}: {'from the cache' if reused else 'scattered'} -> {written}", flush=True)
    print(f"Done: {len(meshes)} mesh(es) into {out_dir} ({reused_count} from the cache).", flush=True)


# -- the nodes of a scene (mayapy) ---------------------------------------------------------
def _require_maya() -> None:
    """Refuse (exit 2) under plain python, before anything is written."""
    try:
        import maya.standalone  # noqa: F401
    except ImportError:
        raise ScriptError("Scattering the nodes of a scene needs Maya: run it with mayapy "
                          "('mayapy standalone/scatter_points.py --scene S.ma').") from None


def _start_maya() -> Any:
    """``maya.standalone`` started, the scatter node's plug-in loaded; returns ``maya.cmds``."""
    import maya.standalone

    maya.standalone.initialize(name="python")  # type: ignore[no-untyped-call]  # untyped in the stubs
    from maya import cmds

    if not cmds.pluginInfo(NODE_PLUGIN, query=True, loaded=True):
        try:
            cmds.loadPlugin(NODE_PLUGIN)
        except RuntimeError:  # the module is not installed: load it from this checkout
            cmds.loadPlugin(str(Path(__file__).resolve().parents[1] / "nodes" / NODE_PLUGIN))
    return cmds


def _write_node_points(cmds: Any, node: str, out_dir: Path) -> Path:
    """The node's output points (positions, normals where present) as ``<node>.npz``."""
    import numpy as np

    from openpipeline.atomic import publish

    arrays: dict[str, Any] = {}
    for key, attribute in OUTPUTS.items():
        if cmds.attributeQuery(attribute, node=node, exists=True):
            values = np.asarray(cmds.getAttr(f"{node}.{attribute}") or [], dtype=np.float64)
            arrays[key] = values.reshape(-1, values.shape[-1] if values.ndim > 1 else 3)[:, :3]
    target = out_dir / f"{node.replace('|', '_').replace(':', '_')}.npz"
    with publish(target) as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **arrays)
    return target


def scatter_scene(args: argparse.Namespace) -> None:
    """Compute every scatter node of a scene into the cache (and, with --out-dir, to files)."""
    scene = Path(args.scene)
    if args.meshes:
        raise ScriptError("Give meshes or --scene, not both.")
    if not scene.is_file() or scene.suffix.lower() not in (".ma", ".mb"):
        raise ScriptError(f"Scene '{scene}' is not a Maya scene file (.ma or .mb); check the path.")
    if args.format != "npz":
        raise ScriptError("The points of scene nodes are written as .npz; leave out --format.")
    _require_maya()
    out_dir = Path(args.out_dir) if args.out_dir else None
    with tempfile.TemporaryDirectory(prefix="openpipeline-nocache-") as scratch:
        # the nodes find the cache through the environment, as every Maya session does
        os.environ["OPENPIPELINE_CACHE"] = str(batch.cache_folder(args) or scratch)
        cmds = _start_maya()
        try:
            _compute_nodes(cmds, scene, out_dir, args.quiet)
        finally:
            import maya.standalone

            maya.standalone.uninitialize()  # type: ignore[no-untyped-call]  # untyped in the stubs


def _compute_nodes(cmds: Any, scene: Path, out_dir: Path | None, quiet: bool) -> None:
    cmds.file(str(scene), open=True, force=True)
    nodes = cmds.ls(type=NODE_TYPE) or []
    if not nodes:
        raise ScriptError(f"Scene '{scene.name}' has no {NODE_TYPE} nodes; nothing to scatter.")
    progress = None if quiet else batch.percent_lines()
    for number, node in enumerate(nodes):
        batch.report(progress, "scatter", number / len(nodes), node)
        cmds.getAttr(f"{node}.{OUTPUTS['positions']}")  # batch Maya computes synchronously, through the cache
        if cmds.getAttr(f"{node}.status", asString=True) == FAILED:
            raise RuntimeError(f"node {node} failed: {cmds.getAttr(f'{node}.statusMessage')}")
        written = ""
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            written = f" -> {_write_node_points(cmds, node, out_dir)}"
        print(f"{node}: computed{written}", flush=True)
    batch.report(progress, "scatter", 1.0, "done")
    print(f"Done: {len(nodes)} node(s) of {scene.name}.", flush=True)


def main(argv: Sequence[str]) -> None:
    args = build_parser().parse_args(argv)
    if args.scene:
        scatter_scene(args)
    elif not args.meshes:
        raise ScriptError("Give mesh files to scatter, or --scene S.ma; see 'scatter_points.py --help'.")
    else:
        scatter_meshes(args)


if __name__ == "__main__":
    sys.exit(batch.run_script(NAME, main))
