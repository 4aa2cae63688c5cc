"""Pipeline items as farm inputs and outputs.

An item's textures are the images in its ``textures`` folder (the project's
``folders.textures`` name, inside the item's folder: ``lib/prop/chair/textures/``).
Each result comes back as a new *texture workshop* beside them, in the folder's
``workshop`` folder (``textures/workshop/wood_workshop_0001.png``; a UDIM set keeps its
tiles: ``wood_workshop_0001.1001.png``...), numbered by exclusive claim per texture so
two farm machines never take one number, and recorded in the item's history as a
``farm-result`` event holding the source file's sha256, the operation, the parameters
and the result's cache key.

The ``master`` operation takes an item too: its task runs
``mayapy standalone/master_scene.py`` on a machine with Maya.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from openpipeline.atomic import TEMP_MARK, unlink_quietly
from openpipeline.core import history, journal
from openpipeline.core.address import ItemRef
from openpipeline.core.claims import claim_number
from openpipeline.core.events import FarmResultData
from openpipeline.core.items import Item, holding
from openpipeline.core.journal import EventStep, MoveStep, Step
from openpipeline.core.project import Project
from openpipeline.farm.inputs import UDIM_TOKEN, Request, _stem, build_tasks_for, texture_sources
from openpipeline.farm.model import FarmJobError, FarmTask


def open_item(project_root: str | Path, address: str) -> Item:
    """The existing item at ``address`` in the project at ``project_root``."""
    return Project.open(project_root).item(ItemRef.parse(address)).require()


def textures_folder(item: Item) -> Path:
    """The item's ``textures`` folder."""
    return item.path / item.project.config.folders["textures"]


def item_tasks(request: Request) -> list[FarmTask]:
    """The tasks of an item request: one per texture of the item (or one ``master`` task)."""
    if request.project is None:
        raise FarmJobError("An item input needs a project; pass --project DIR or set OPENPIPELINE_PROJECT.")
    item = open_item(request.project, request.input)
    root, address = str(item.project.root), item.ref.address
    if request.operation == "master":
        if not request.note.strip():
            raise FarmJobError("A master needs a note; say what it holds with --note 'approved layout'.")
        _check_master_checkout(request.pythonpath)
        job = {"kind": "master", "item": address, "project": root, "note": request.note}
        return [FarmTask(address, job, None, "", item=address, project=root)]
    if request.operation == "scatter":
        raise FarmJobError("Scatter takes mesh files, not an item; give a mesh folder or files.")
    folder = textures_folder(item)
    sources = texture_sources(folder) if folder.is_dir() else []
    if not sources:
        raise FarmJobError(f"Item '{address}' has no textures in '{item.project.relative(folder)}'; "
                           "put the images to restore there.")
    workshop = str(folder / item.project.config.folders["workshop"])
    tasks = build_tasks_for(request, sources, [workshop] * len(sources))
    return [replace(task, item=address, project=root) for task in tasks]


def _check_master_checkout(pythonpath: str | None) -> None:
    """A master task runs ``standalone/master_scene.py`` from the OpenPipeline checkout the job
    names (its pythonpath, remapped for the farm like every path); refuse a job without one."""
    from openpipeline.farm.task import MASTER_SCRIPT

    if not pythonpath or not (Path(pythonpath) / MASTER_SCRIPT).is_file():
        where = f"'{pythonpath}' has no {MASTER_SCRIPT}" if pythonpath else "the job names no checkout"
        raise FarmJobError(f"A master job runs {MASTER_SCRIPT} from an OpenPipeline checkout but {where}; "
                           "give the checkout's folder with --pythonpath DIR.")


def _result_pattern(item: Item, task: FarmTask, number: int) -> Path:
    """``<textures>/workshop/<stem>_workshop_<NNNN>[.<UDIM>]<suffix>`` for workshop ``number``."""
    source = Path(str(task.job["source"]))
    suffix = str(task.job.get("suffix") or source.suffix)
    udim = f".{UDIM_TOKEN}" if UDIM_TOKEN in source.name else ""
    padding = item.project.config.version_padding
    return Path(task.output) / f"{_stem(source.name)}_workshop_{number:0{padding}d}{udim}{suffix}"


def _input_digests(task: FarmTask) -> tuple[tuple[str, str], ...]:
    from openpipeline.engine.cache import file_digest
    from openpipeline.engine.texture.udim import udim_paths

    return tuple((tile, file_digest(path)) for tile, path in udim_paths(str(task.job["source"])))


def already_delivered(item: Item, source: str, key: str) -> list[Path] | None:
    """The files of an earlier ``farm-result`` of the same source and result key, when they all
    still exist (a re-run or a resumed job then adds no duplicate workshop), else None."""
    from openpipeline.engine.texture.udim import udim_paths

    for event in reversed(item.events()):
        data = event.data
        if isinstance(data, FarmResultData) and data.key == key and data.source == source:
            pattern = str(item.project.root / data.path)
            try:
                return [path for _, path in udim_paths(pattern)] if UDIM_TOKEN in pattern else (
                    [Path(pattern)] if Path(pattern).is_file() else None)
            except Exception:  # the tiles are gone: deliver again
                return None
    return None


def deliver_to_item(task: FarmTask, entry: Any) -> list[Path]:
    """Save a cached texture result as the item's next texture workshop and record it in the history,
    all or nothing; a result this item already holds (same source, same key, files present) is not
    saved twice.

    The files are copied to hidden temporary names first, then one journal record moves them into
    place and writes the ``farm-result`` event (as :func:`~openpipeline.core.versions.save_workshop`
    does); when anything fails the temporaries are removed and the claimed number is given back.

    Cost: the item's history read, one copy per file, one claim, one journal record, one event file.
    """
    assert task.item is not None and task.project is not None
    item = open_item(task.project, task.item)
    source = Path(str(task.job["source"]))
    Path(task.output).mkdir(parents=True, exist_ok=True)
    with holding([item]):
        earlier = already_delivered(item, _relative_or_absolute(item, source), entry.key)
        if earlier is not None:
            return earlier

        def in_use(number: int) -> bool:
            pattern = str(_result_pattern(item, task, number))
            return any(Path(p).exists() for p in (pattern.replace(UDIM_TOKEN, "1001"), pattern))

        claims = item.claims_dir(f"texture-{_stem(source.name)}")
        number = claim_number(claims, in_use)
        try:
            return _publish_result(item, task, entry, number)
        except journal.NotUndoneError:
            raise  # the set-aside record names the staged files: keep them, and the number
        except BaseException:
            unlink_quietly(claims / str(number))
            raise


def _publish_result(item: Item, task: FarmTask, entry: Any, number: int) -> list[Path]:
    """Copy the result to temporary names beside its place, then journal: move into place, record."""
    from openpipeline.engine.texture.job import deliver as deliver_texture

    source = Path(str(task.job["source"]))
    pattern = _result_pattern(item, task, number)
    prefix = f"{TEMP_MARK}{uuid.uuid4().hex[:12]}-"
    staged: list[Path] = []
    try:
        staged = deliver_texture(entry, str(pattern.with_name(prefix + pattern.name)))
        files = [path.with_name(path.name[len(prefix):]) for path in staged]
        project = item.project
        operation = str(task.job["params"].get("operation", ""))
        record = history.new_event(item.ref.address, FarmResultData(
            path=project.relative(pattern), source=_relative_or_absolute(item, source),
            inputs=_input_digests(task), operation=operation, params=dict(task.job["params"]),
            key=entry.key), version=number, comment=f"farm {operation} of {source.name}")
        steps: list[Step] = [MoveStep(project.relative(temp), project.relative(final))
                             for temp, final in zip(staged, files, strict=True)]
        steps.append(EventStep(project.relative(item.meta), record))
        journal.run(project.root, project.meta, "farm-result", steps)
    except journal.NotUndoneError:
        raise
    except BaseException:
        for path in staged:
            unlink_quietly(path)
        raise
    return files


def _relative_or_absolute(item: Item, path: Path) -> str:
    try:
        return item.project.relative(path) if Path(os.path.abspath(path)).is_relative_to(
            Path(os.path.abspath(item.project.root))) else str(path)
    except ValueError:
        return str(path)
