"""From what the user names (a folder, a UDIM set, meshes, a pipeline item) to a farm job.

- a **folder** of textures: every image in it (``name.1001.png``... grouped into one
  ``name.<UDIM>.png`` set), leaving out masks (``<stem>_mask.<ext>``, see
  :data:`MASK_SUFFIX`); a folder of meshes: every mesh file in it;
- a **UDIM set** ``name.<UDIM>.ext`` or one **file**; **meshes** as ``a.obj,b.obj``;
- a **pipeline item** ``asset/...`` or ``shot/...``: the textures in the item's
  ``textures`` folder (see :mod:`.items`); results go back as new workshops.

Every input is read and every output checked before anything is written: an empty
folder, a missing mask, an output inside the input, an unwritable output are refused
with one sentence (:class:`~.model.FarmJobError`).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpipeline.farm.model import TEXTURE_OPERATIONS, FarmJob, FarmJobError, FarmTask

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".tx", ".tga", ".bmp", ".hdr")
MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf", ".npz")
MASK_SUFFIX = "_mask"
UDIM_TOKEN = "<UDIM>"
_UDIM_NAME = re.compile(r"(?P<head>.*)\.(?P<tile>1\d{3})(?P<tail>\.[^.]+)\Z")
ITEM_PREFIXES = ("asset/", "shot/")


@dataclass(frozen=True)
class Request:
    """What ``openpipeline farm submit`` was asked.

    Attributes:
        texture: :class:`~openpipeline.engine.texture.RestoreParams` fields (not ``operation``).
        scatter: :class:`~openpipeline.engine.scatter.ScatterParams` fields.
        points_suffix: the scatter result's format (``.npz``, ``.json``, ``.usda``...).
        project: the project of an item input (None for files and folders).
        cache, python, pythonpath: see :class:`~.model.FarmJob`.
    """

    operation: str
    input: str
    output: str
    texture: dict[str, Any] = field(default_factory=dict)
    scatter: dict[str, Any] = field(default_factory=dict)
    points_suffix: str = ".npz"
    project: Path | None = None
    cache: str | None = None
    python: str = "python"
    pythonpath: str | None = None
    calibrate: bool = False
    note: str = ""  # the master's note (master only)


def is_item_address(text: str) -> bool:
    """True for ``asset/...`` and ``shot/...`` (a pipeline item, not a path)."""
    return text.startswith(ITEM_PREFIXES) and not os.path.exists(text)


def texture_sources(folder: Path) -> list[str]:
    """The textures of ``folder``, UDIM tiles grouped into sets, masks left out, sorted by name."""
    found: set[str] = set()
    for entry in sorted(folder.iterdir()):
        if not entry.is_file() or entry.suffix.lower() not in IMAGE_SUFFIXES or entry.name.startswith("."):
            continue
        match = _UDIM_NAME.match(entry.name)
        name = f"{match['head']}.{UDIM_TOKEN}{match['tail']}" if match else entry.name
        if _stem(name).endswith(MASK_SUFFIX):
            continue
        found.add(str(folder / name))
    return sorted(found)


def _stem(name: str) -> str:
    """``wood.<UDIM>.png`` → ``wood``; ``wood.png`` → ``wood``."""
    base = name.replace(f".{UDIM_TOKEN}", "")
    return base.rsplit(".", 1)[0]


def mask_for(source: str) -> str:
    """The mask of a texture by the naming rule: ``wood.png`` → ``wood_mask.png``,
    ``wood.<UDIM>.png`` → ``wood_mask.<UDIM>.png``.

    >>> mask_for("/t/wood.<UDIM>.png")
    '/t/wood_mask.<UDIM>.png'
    """
    path = Path(source)
    stem = _stem(path.name)
    return str(path.with_name(stem + MASK_SUFFIX + path.name[len(stem):]))


def _exists(source: str) -> bool:
    if UDIM_TOKEN not in source:
        return os.path.isfile(source)
    from openpipeline.engine.texture.udim import udim_paths

    try:
        return bool(udim_paths(source))
    except Exception:
        return False


def mesh_sources(text: str) -> list[str]:
    """The meshes named by ``text``: a folder's mesh files, one file, or ``a.obj,b.obj``."""
    path = Path(text)
    if path.is_dir():
        return [str(p) for p in sorted(path.iterdir())
                if p.is_file() and p.suffix.lower() in MESH_SUFFIXES and not p.name.startswith(".")]
    names = [name for name in text.split(",") if name]
    for name in names:
        if not os.path.isfile(name):
            raise FarmJobError(f"Mesh file '{name}' does not exist; check the path.")
    return names


def file_sources(request: Request) -> list[str]:
    """The inputs of a file or folder request, refused with one sentence when there are none."""
    if request.operation == "scatter":
        sources = mesh_sources(request.input)
        what = "mesh files (" + ", ".join(MESH_SUFFIXES) + ")"
    else:
        path = Path(request.input)
        if path.is_dir():
            sources = texture_sources(path)
        elif _exists(request.input):
            sources = [request.input]
        else:
            raise FarmJobError(f"Input '{request.input}' does not exist; give a folder, an image or a "
                               f"{UDIM_TOKEN} set.")
        what = "images (" + ", ".join(IMAGE_SUFFIXES) + ")"
    if not sources:
        raise FarmJobError(f"'{request.input}' holds no {what}; give a folder that does.")
    return sources


def check_output_place(inputs: list[str], output: str) -> None:
    """Refuse an output folder inside an input folder (results would become inputs of the next run)."""
    out = Path(os.path.abspath(output))
    for source in inputs:
        folder = Path(os.path.abspath(source)).parent
        if out == folder or folder in out.parents:
            raise FarmJobError(f"The output folder '{output}' is inside the input folder '{folder}'; "
                               "choose a folder outside it.")
    if out.exists() and not out.is_dir():
        raise FarmJobError(f"The output '{output}' is a file; give a folder for the results.")


def texture_output(source: str, folder: str, suffix: str | None) -> str:
    """Where a texture's result goes in the output folder: its own name (another suffix if asked)."""
    name = Path(source).name
    if suffix:
        name = name.rsplit(".", 1)[0] + suffix
    return str(Path(os.path.abspath(folder)) / name)


def check_distinct_outputs(sources: list[str], outputs: list[str]) -> None:
    """Refuse two inputs whose results would land on the same path (one would silently replace the other).

    Names are compared without case: a result folder may be read on Windows or macOS.
    """
    seen: dict[str, str] = {}
    for source, output in zip(sources, outputs, strict=True):
        other = seen.setdefault(os.path.abspath(output).casefold(), source)
        if other != source:
            raise FarmJobError(f"'{other}' and '{source}' would both write '{Path(output).name}'; "
                               "rename one or submit them separately.")


def texture_task(request: Request, source: str, output: str, model: Any) -> FarmTask:
    """The task restoring ``source`` into ``output``, with its key and estimate."""
    from openpipeline.engine.texture import RestoreParams
    from openpipeline.engine.texture.job import TextureJob
    from openpipeline.engine.texture.udim import udim_paths
    from openpipeline.farm.estimate import image_size, texture_estimate

    operation = TEXTURE_OPERATIONS[request.operation]
    options = {k: v for k, v in request.texture.items() if k != "suffix"}
    params = RestoreParams(operation=operation, **options)
    params.check()
    mask = None
    if operation == "inpaint":
        mask = mask_for(source)
        if not _exists(mask):
            raise FarmJobError(f"Texture '{Path(source).name}' has no mask '{Path(mask).name}' beside it; "
                               f"inpainting needs one per texture, named <texture>{MASK_SUFFIX}.<ext>.")
    absolute = os.path.abspath(source)
    job = TextureJob(source=absolute, params=params, mask=None if mask is None else os.path.abspath(mask),
                     suffix=request.texture.get("suffix"))
    sizes = [s for _, p in udim_paths(absolute) if (s := image_size(str(p))) is not None]
    seconds, memory = texture_estimate(sizes, params, model)
    return FarmTask(Path(source).name, job.to_dict(), job.key(), output, seconds=round(seconds, 1),
                    memory=memory)


def scatter_task(request: Request, mesh: str, output: str) -> FarmTask:
    """The task scattering over ``mesh`` into ``output``, with its key and estimate."""
    from openpipeline.engine.scatter import ScatterParams
    from openpipeline.engine.scatter.budget import estimate
    from openpipeline.engine.scatter.job import ScatterJob
    from openpipeline.engine.scatter.mesh import mesh_area

    options = dict(request.scatter)
    density = options.pop("density", None)
    channel = options.pop("density_channel", None)
    params = ScatterParams(**options)
    params.check()
    if params.count is None and params.spacing is None:
        raise FarmJobError("Give the number of points with --count N (or a --spacing).")
    from openpipeline.engine.scatter import load_mesh

    loaded = load_mesh(mesh)
    count = params.resolve_count(mesh_area(loaded))
    cost = estimate(count, params.method, len(loaded.faces), density is not None)
    job = ScatterJob(mesh=os.path.abspath(mesh), params=params,
                     density=None if density is None else os.path.abspath(density), density_channel=channel)
    return FarmTask(Path(mesh).name, job.to_dict(), job.key(), output, seconds=round(cost.seconds, 1),
                    memory=int(cost.memory))


def build_tasks(request: Request, sources: list[str]) -> list[FarmTask]:
    """One task per source, outputs in ``request.output``."""
    if request.operation == "scatter":
        folder = Path(os.path.abspath(request.output))
        points = [str(folder / (Path(mesh).stem + request.points_suffix)) for mesh in sources]
        check_distinct_outputs(sources, points)
        return [scatter_task(request, mesh, output) for mesh, output in zip(sources, points, strict=True)]
    suffix = request.texture.get("suffix")
    outputs = [texture_output(source, request.output, suffix) for source in sources]
    check_distinct_outputs(sources, outputs)
    return build_tasks_for(request, sources, outputs)


def build_tasks_for(request: Request, sources: list[str], outputs: list[str]) -> list[FarmTask]:
    """One texture task per source, each with its output."""
    from openpipeline.farm.estimate import runtime_model

    model = runtime_model(TEXTURE_OPERATIONS[request.operation], calibrate=request.calibrate)
    pairs = zip(sources, outputs, strict=True)
    return [texture_task(request, source, output, model) for source, output in pairs]


def job_name(request: Request) -> str:
    """``op-texture-denoise-textures``: the operation and the input's last name."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(request.input.rstrip("/\\")).name or "input")
    return f"op-{request.operation}-{base}"[:100]


def build_job(request: Request) -> FarmJob:
    """The farm job for ``request``: every input read and every output place checked first.

    Raises:
        FarmJobError, EngineInputError: one sentence; nothing was written.

    Cost: reads every input whole (for the cache keys) and every image's header.
    """
    if is_item_address(request.input):
        from openpipeline.farm.items import item_tasks

        tasks = item_tasks(request)
    elif request.operation == "master":
        raise FarmJobError("The 'master' operation takes a pipeline item (asset/... or shot/...), "
                           "not files; give the item's address.")
    else:
        sources = file_sources(request)
        check_output_place(sources, request.output)
        tasks = build_tasks(request, sources)
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return FarmJob(job_name(request), request.operation, tuple(tasks), request.cache, request.python,
                   request.pythonpath, created)
