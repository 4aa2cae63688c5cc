"""Progress reporting and cancellation shared by every long engine call.

A progress callback receives a :class:`Progress` and returns ``False`` (or
raises :class:`~openpipeline.engine.errors.Cancelled`) to stop the work; any
other return value continues. The CLI draws a bar from it, Maya feeds its
progress window, farm logs print percentages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from openpipeline.engine.errors import Cancelled


@dataclass
class Progress:
    """Where a long computation stands."""

    stage: str
    fraction: float
    message: str = ""
    elapsed: float = 0.0
    eta: float | None = None
    values: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], object]  # False (or raising Cancelled) stops the work


class Reporter:
    """Turns (stage, fraction) updates into :class:`Progress` calls with an ETA."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.start = time.perf_counter()

    def __call__(self, stage: str, fraction: float, message: str = "", **values: Any) -> None:
        if self.callback is None:
            return
        elapsed = time.perf_counter() - self.start
        fraction = min(max(fraction, 0.0), 1.0)
        eta = elapsed * (1 - fraction) / fraction if fraction > 0.01 else None
        answer = self.callback(Progress(stage, fraction, message, elapsed, eta, values))
        if answer is False:
            raise Cancelled(f"Cancelled during {stage}.")


def text_bar(out: TextIO, width: int = 30) -> ProgressCallback:
    """A progress callback that draws a one-line bar on ``out`` (a text stream)."""
    def draw(progress: Progress) -> None:
        filled = int(progress.fraction * width)
        eta = f" eta {progress.eta:5.1f}s" if progress.eta is not None else ""
        out.write(f"\r{progress.stage:<12} [{'#' * filled}{'.' * (width - filled)}] "
                  f"{progress.fraction * 100:5.1f}%{eta} {progress.message[:40]:<40}")
        if progress.fraction >= 1.0:
            out.write("\n")
        out.flush()
    return draw
