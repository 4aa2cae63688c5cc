"""Texture restoration with Deep Image Prior, headless (CLI, farm) or behind a Maya node.

The public entry points; the modules hold the parts:

- :mod:`.restoration`: jobs over images and files (alpha, HDR, normal maps, tiles, UDIMs);
  :mod:`.value_range`: file values to the generator's 0..1 and back (HDR: a log map);
- :mod:`.fitting`: fitting one generator to one tile; the loop's policies beside it:
  :mod:`.stopping` (when to stop), :mod:`.rollback` (collapses), :mod:`.averaging`
  (the averaged output), :mod:`.probe` (benchmark-only measurements);
- :mod:`.network`: the generator and its configurations;
- :mod:`.dct_filters`, :mod:`.harmonic_fill`: the classical estimates that guide it;
- :mod:`.noise_level`: estimating σ; :mod:`.duration_model`: predicting a job's time;
- :mod:`.tiles`, :mod:`.udim`: tiling and UDIM sets;
- :mod:`.job`: a restoration as a cacheable job (:class:`TextureJob`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from openpipeline.engine.texture.job import TextureJob
from openpipeline.engine.texture.params import RestoreParams
from openpipeline.engine.texture.udim import UDIM_TOKEN, udim_paths

if TYPE_CHECKING:
    from openpipeline.engine.texture.duration_model import RuntimeModel, load_or_calibrate
    from openpipeline.engine.texture.restoration import RestoreResult, restore, restore_file

# Names whose modules import torch: loaded on first use, so describing a job, checking its
# files and answering it from the result cache never load the engine.
_LAZY = {"RuntimeModel": "duration_model", "load_or_calibrate": "duration_model",
         "RestoreResult": "restoration", "restore": "restoration", "restore_file": "restoration"}

__all__ = ["UDIM_TOKEN", "RestoreParams", "RestoreResult", "RuntimeModel", "TextureJob",
           "load_or_calibrate", "restore", "restore_file", "udim_paths"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
