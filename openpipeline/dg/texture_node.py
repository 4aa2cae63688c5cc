"""What the opDipTexture node computes, as plain Python: attribute values -> TextureJob -> outputs.

The node restores a texture (denoise, inpaint, upscale) and gives the path of the
restored file, to feed a ``file`` node's ``fileTextureName``. That path is the cached
result's own file (``<cache>/texture/ab/<key>/restored.exr``; a UDIM set keeps its
``<UDIM>`` token), so nothing is copied and a farm job that computed the same key
serves the node too.

Example (interactive: the first answer is ``running``; ``on_change`` fires when the
result lands and the next evaluation answers ``cached``)::

    node = TextureNode(on_change=lambda: print("dirty"))
    out = node.evaluate(TextureInputs(file_path="rock.png", sigma=25), ResultCache(root), batch=False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from openpipeline.dg.state import STATUSES, Answer, JobStarter, JobState, problem, start_background
from openpipeline.engine.cache import ResultCache
from openpipeline.engine.errors import EngineError, EngineInputError
from openpipeline.engine.jobs import run_cached
from openpipeline.engine.texture.job import TextureJob
from openpipeline.engine.texture.params import FACTORS, RestoreParams
from openpipeline.engine.texture.udim import udim_paths

# The operation enum of the node, in this order for ever (enum indices are stored in scenes).
OPERATIONS = ("denoise", "inpaint", "upscale")


@dataclass(frozen=True)
class TextureInputs:
    """The node's input attributes (0 means "none" or "estimate" where the attribute says so).

    Attributes:
        file_path: the source image (``fileTextureName`` of the file node it came from);
            may hold ``<UDIM>``. Empty: the node is idle.
        operation: one of :data:`OPERATIONS`.
        mask_path: for inpainting, non-zero pixels are the holes.
        factor: 2, 4 or 8 (upscale).
        sigma: noise level in 8-bit levels; 0 estimates it.
        time_budget: seconds for the whole job; 0 is no limit.
        max_iterations: a cap on each tile's iterations; 0 is no cap (tests, previews).
    """

    file_path: str = ""
    operation: str = "denoise"
    mask_path: str = ""
    factor: int = 2
    sigma: float = 0.0
    seed: int = 0
    time_budget: float = 0.0
    seamless: bool = False
    max_iterations: int = 0

    def params(self) -> RestoreParams:
        """The engine's parameters, checked.

        Raises:
            EngineInputError: a value the engine refuses (one sentence).
        """
        for name in ("sigma", "time_budget", "max_iterations"):
            if getattr(self, name) < 0:
                raise EngineInputError(f"{_attribute(name)} must be 0 or more, not {getattr(self, name)}.")
        if self.factor not in FACTORS:
            raise EngineInputError(f"Factor {self.factor} is not allowed; use 2, 4 or 8.")
        params = RestoreParams(
            operation=self.operation, sigma=self.sigma or None, factor=self.factor, seed=self.seed,
            time_budget=self.time_budget or None, seamless=self.seamless,
            max_iterations=self.max_iterations or None)
        params.check()
        return params

    def job(self) -> TextureJob | None:
        """The job these inputs ask for; None when no file is given.

        Raises:
            EngineInputError: bad parameters, a missing file or UDIM set, inpainting without a mask.

        Cost: lists the UDIM tiles on disk.
        """
        if not self.file_path.strip():
            return None
        params = self.params()
        if self.operation == "inpaint" and not self.mask_path:
            raise EngineInputError("Inpainting needs a mask image (maskPath; non-zero pixels are the holes).")
        for path in [self.file_path, self.mask_path] if self.mask_path else [self.file_path]:
            for _tile, tile_path in udim_paths(path):
                if not tile_path.is_file():
                    raise EngineInputError(f"Texture '{tile_path}' does not exist; check the path.")
        return TextureJob(source=self.file_path, params=params, mask=self.mask_path or None)


def _attribute(field_name: str) -> str:
    """``time_budget`` -> ``timeBudget``: the Maya attribute of an inputs field."""
    first, *rest = field_name.split("_")
    return first + "".join(word.capitalize() for word in rest)


@dataclass(frozen=True)
class TextureOutputs:
    """The node's output attributes."""

    output_path: str
    status: str
    progress: float
    message: str

    @property
    def status_index(self) -> int:
        """The status as the enum attribute stores it."""
        return STATUSES.index(self.status)


class TextureNode:
    """The state of one opDipTexture node (see :class:`~openpipeline.dg.state.JobState`).

    While a new result is computed the node keeps giving the last good path (or "" if
    there is none), so a shading network never points at a missing file.
    """

    def __init__(self, on_change: Callable[[], None] | None = None,
                 start: JobStarter = start_background) -> None:
        self.state = JobState(on_change, start)
        self._last_path = ""

    def evaluate(self, inputs: TextureInputs, cache: ResultCache, batch: bool) -> TextureOutputs:
        """The outputs for ``inputs`` now (see :meth:`JobState.evaluate`); never blocks unless ``batch``."""
        try:
            job = inputs.job()
        except EngineError as exc:
            self.state.reset()
            return TextureOutputs(self._last_path, "failed", 0.0, str(exc))
        try:
            stamp = files_stamp(inputs)
        except (EngineError, OSError) as exc:
            self.state.reset()
            return TextureOutputs(self._last_path, "failed", 0.0, problem(exc))
        answer = self.state.evaluate(job, cache, batch, stamp)
        if answer.status == "idle":
            self._last_path = ""
        elif answer.status == "cached" and job is not None:
            self._last_path = result_path(answer, job)
        return TextureOutputs(self._last_path, answer.status, answer.fraction, answer.message)

    def dispose(self) -> None:
        """The node is being deleted: cancel its job."""
        self.state.dispose()


def files_stamp(inputs: TextureInputs) -> tuple[tuple[str, int, int], ...]:
    """Path, size and modification time of every input file (each UDIM tile, the mask):
    while they are unchanged, the node does not hash the files again.

    Cost: lists the UDIM tiles and stats each file.
    """
    paths = [inputs.file_path, inputs.mask_path] if inputs.mask_path else [inputs.file_path]
    stamp = []
    for pattern in paths:
        for _tile, path in udim_paths(pattern):
            stat = path.stat()
            stamp.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(stamp)


def result_path(answer: Answer, job: TextureJob) -> str:
    """The cached result file a ``file`` node reads (``<UDIM>`` kept for UDIM sets)."""
    assert answer.entry is not None
    return str(answer.entry.folder / job.result_name())


def restore_now(inputs: TextureInputs, cache: ResultCache) -> str:
    """Run the job for ``inputs`` synchronously (or take it from the cache); returns the result path.

    Raises:
        EngineInputError: no file given, or inputs the engine refuses.
        EngineError: the engine failed.
    """
    job = inputs.job()
    if job is None:
        raise EngineInputError("Give a texture file (filePath) to restore.")
    entry, _reused = run_cached(job, cache)
    if entry is None:
        raise EngineError("The engine published no result; run the job again.")
    return str(entry.folder / job.result_name())
