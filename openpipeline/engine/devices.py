"""Where the engine computes: CUDA, then Apple MPS, then the CPU; and how many CPU threads."""

from __future__ import annotations

import os

import torch

from openpipeline.engine.errors import EngineInputError


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` takes CUDA, then Apple MPS, then the CPU; a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise EngineInputError("Device 'cuda' was asked for but no CUDA GPU is available; use --device cpu.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise EngineInputError("Device 'mps' was asked for but Apple MPS is not available; use --device cpu.")
    if name not in ("cpu", "cuda", "mps"):
        raise EngineInputError(f"Device '{name}' is not known; use auto, cpu, cuda or mps.")
    return torch.device(name)


def pick_threads(requested: int | None = None) -> int:
    """CPU threads: as asked, else the cores that are idle now (at least one).

    On a busy machine two threads are slower than one, so the current load counts.
    """
    if requested is not None:
        if requested < 1:
            raise EngineInputError(f"Threads must be at least 1, not {requested}.")
        return requested
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, min(cores, round(cores - load)))
