"""Where the engine computes: CUDA, then Apple MPS, then the CPU; and how many CPU threads."""

from __future__ import annotations

import os

import torch

from openpipeline.engine.errors import EngineInputError


def _mps_available() -> bool:
    """Apple MPS is built into this torch and usable on this machine."""
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` takes CUDA, then Apple MPS, then the CPU; a named device must exist.

    Raises:
        EngineInputError: the named device is unknown or not available here.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise EngineInputError("Device 'cuda' was asked for but no CUDA GPU is available; use --device cpu.")
    if name == "mps" and not _mps_available():
        raise EngineInputError("Device 'mps' was asked for but Apple MPS is not available; use --device cpu.")
    if name not in ("cpu", "cuda", "mps"):
        raise EngineInputError(f"Device '{name}' is not known; use auto, cpu, cuda or mps.")
    return torch.device(name)


def pick_threads(requested: int | None = None) -> int:
    """CPU threads: as asked, else the cores that are idle now (at least one).

    On a busy machine two threads are slower than one, so the current load counts:
    the cores minus the one-minute load average, rounded, at least one, at most
    the cores (all of them where the load average cannot be read).

    Raises:
        EngineInputError: ``requested`` is below 1.
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
