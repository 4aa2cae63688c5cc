"""A texture restoration as a cacheable job: its key, its run, and delivering its result.

The key covers :data:`RESULT_VERSION`, the parameters that change the pixels (not the
device or the thread count), the result's format and the bytes of every input file:
each UDIM tile with its number, the mask (each tile's mask for a UDIM mask) and the
flash photo. A result is stored as ``restored.<ext>`` or ``restored.<tile>.<ext>`` per
UDIM tile and copied to the user's output by :func:`deliver`.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from openpipeline.atomic import publish_together
from openpipeline.engine.cache import Entry, canonical_key, file_digest
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.progress import ProgressCallback
from openpipeline.engine.texture.params import RestoreParams
from openpipeline.engine.texture.udim import UDIM_TOKEN, output_for, udim_paths

__all__ = ["RESULT_VERSION", "TextureJob", "deliver"]

RESULT_VERSION = "texture-54"  # bump whenever the engine's output for the same inputs changes
# Parameters that never change the pixels: where and how fast they are computed, and
# whether a lossy output format is allowed (checked against the user's output, not kept).
NOT_IN_KEY = ("device", "threads", "allow_lossy")
RESULT_STEM = "restored"
_TILE = re.compile(r"(?:[0-9]{4})?\Z")  # a UDIM tile, or '' for a plain result


@dataclass(frozen=True)
class TextureJob:
    """One restoration of an image (or a UDIM set) as a value.

    Attributes:
        source: the image path; may contain ``<UDIM>``.
        params: the restoration's parameters.
        mask: the mask image (inpaint); may contain ``<UDIM>``.
        guide: the flash photo (flash).
        suffix: the result's format, e.g. ``".exr"``; None: the source's suffix.
    """

    source: str
    params: RestoreParams
    mask: str | None = None
    guide: str | None = None
    suffix: str | None = None
    kind: ClassVar[str] = "texture"

    @property
    def is_udim(self) -> bool:
        return UDIM_TOKEN in self.source

    def result_name(self) -> str:
        """``restored.<UDIM>.exr`` for a UDIM set, ``restored.exr`` otherwise."""
        suffix = (self.suffix or Path(self.source).suffix).lower()
        return f"{RESULT_STEM}.{UDIM_TOKEN}{suffix}" if self.is_udim else f"{RESULT_STEM}{suffix}"

    def _input_digests(self) -> list[list[str]]:
        """[role, UDIM tile, sha256] of every input file. Cost: reads every input file."""
        found = []
        for tile, path in udim_paths(self.source):
            found.append(["image", tile, file_digest(path)])
            if self.mask is not None:
                mask = output_for(self.mask, tile) if UDIM_TOKEN in self.mask else Path(self.mask)
                found.append(["mask", tile, file_digest(mask)])
        if self.guide is not None:
            found.append(["guide", "", file_digest(Path(self.guide))])
        return found

    def key(self) -> str:
        """The sha256 hex of the version, the pixel-changing parameters, the result's
        format and every input's bytes. Cost: reads every input file whole."""
        params = {k: v for k, v in dataclasses.asdict(self.params).items() if k not in NOT_IN_KEY}
        parts = {"kind": self.kind, "version": RESULT_VERSION, "params": params,
                 "result": self.result_name(), "inputs": self._input_digests()}
        return canonical_key(parts)

    def run(self, folder: Path, progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Restore into ``folder``; returns the summary with ``files``: the names written."""
        from openpipeline.engine.texture.restoration import restore_file  # torch: only when computing

        summary = restore_file(self.source, str(folder / self.result_name()), self.params,
                               mask=self.mask, guide=self.guide, progress=progress)
        summary["files"] = [Path(name).name for name in summary["files"]]
        summary["tiles_of"] = [_tile_of(name, self.is_udim) for name in summary["files"]]
        return summary

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-able data (see :meth:`from_dict`)."""
        return {"kind": self.kind, "source": self.source, "params": dataclasses.asdict(self.params),
                "mask": self.mask, "guide": self.guide, "suffix": self.suffix}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextureJob:
        """The job :meth:`to_dict` described.

        Raises:
            EngineInputError: the data is not a texture job.
        """
        try:
            params = RestoreParams(**data["params"])
            return cls(source=str(data["source"]), params=params, mask=data.get("mask"),
                       guide=data.get("guide"), suffix=data.get("suffix"))
        except (KeyError, TypeError) as exc:
            raise EngineInputError(f"The texture job's data is incomplete or wrong ({exc}); "
                                   "send what TextureJob.to_dict() returns.") from exc


def _tile_of(name: str, udim: bool) -> str:
    """The UDIM tile of a result file name (``restored.1001.exr`` -> ``1001``), '' if none."""
    return name.split(".")[1] if udim else ""


def deliver(entry: Entry, output: str) -> list[Path]:
    """Copy the entry's file(s) to ``output`` (``<UDIM>`` mapped per tile), all or nothing.

    Raises:
        EngineInputError: the output and the result disagree on being a UDIM set.

    Cost: one copy, fsync and rename per file.
    """
    files = entry.files()
    tiles = entry.meta.get("tiles_of") or ["" for _ in files]
    if not files or len(tiles) != len(files) or not all(_TILE.match(tile) for tile in tiles):
        raise EngineInputError(f"The cached texture result {entry.key[:12]} is damaged (no files or bad UDIM "
                               "tiles); run again with --no-cache or clear the cache.")
    udim = any(tiles)
    if udim != (UDIM_TOKEN in output):
        raise EngineInputError(f"The output '{output}' must name a UDIM set ({UDIM_TOKEN}) exactly when "
                               "the input does.")
    targets = [output_for(output, tile) for tile in tiles]
    with publish_together(targets) as temporaries:
        for source, temporary in zip(files, temporaries, strict=True):
            shutil.copyfile(source, temporary)
    return targets
