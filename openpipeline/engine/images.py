"""Image reading through OpenImageIO (PNG, JPEG, TIFF, EXR, .tx, ...).

Images come back as float32 arrays (H, W, C) in the file's own value range
(8/16-bit integers are scaled to 0..1, float data is left as it is), with the
channel names, so density maps and textures are read the same way everywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from openpipeline.atomic import publish
from openpipeline.engine.errors import EngineInputError


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what C libraries (libpng, libtiff) print on stderr while a file is read.

    Their complaints come back through OpenImageIO's error text anyway, so the
    user sees one clear sentence instead of a library's raw output.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@dataclass
class Image:
    """Pixels and what the file said about them."""

    pixels: NDArray[np.float32]
    channel_names: list[str]
    format: str
    alpha_channel: int = -1
    spec: Any = None  # the OpenImageIO ImageSpec, to write the result the same way

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


def read_image(path: str | Path) -> Image:
    """Read an image as float32 (H, W, C).

    Raises:
        EngineInputError: the file is missing, unreadable or not an image.
    """
    import OpenImageIO as oiio

    path = Path(path)
    if not path.is_file():
        raise EngineInputError(f"Image '{path}' does not exist; check the path.")
    with quiet_native_stderr():
        source = oiio.ImageInput.open(str(path))
        if source is None:
            reason = oiio.geterror().strip() or "unknown format"
            raise EngineInputError(f"Cannot read image '{path.name}' ({reason}).")
        try:
            spec = source.spec()
            pixels = source.read_image(0, 0, 0, spec.nchannels, "float")
        finally:
            source.close()
    if pixels is None:
        raise EngineInputError(f"Image '{path.name}' is damaged and cannot be decoded.")
    array = np.asarray(pixels, dtype=np.float32).reshape(spec.height, spec.width, spec.nchannels)
    if not np.isfinite(array).all():
        raise EngineInputError(f"Image '{path.name}' holds NaN or infinite values; fix it first.")
    return Image(array, list(spec.channelnames), str(spec.format), spec.alpha_channel, spec)


def write_image(
    path: str | Path,
    pixels: NDArray[np.floating],
    dtype: str = "uint8",
    channel_names: list[str] | tuple[str, ...] | None = None,
    alpha_channel: int = -1,
) -> None:
    """Write an image atomically (see :func:`openpipeline.atomic.publish`).

    Args:
        dtype: the file's pixel type ("uint8", "uint16", "half", "float").
        channel_names, alpha_channel: kept as given (the input's, when restoring).
    """
    import OpenImageIO as oiio

    path = Path(path)
    array = np.ascontiguousarray(pixels, dtype=np.float32)
    if array.ndim == 2:
        array = array[..., None]
    spec = oiio.ImageSpec(array.shape[1], array.shape[0], array.shape[2], dtype)
    if channel_names:
        spec.channelnames = tuple(channel_names)
    spec.alpha_channel = alpha_channel
    with publish(path) as tmp:
        out = oiio.ImageOutput.create(str(tmp))
        if out is None:
            reason = oiio.geterror().strip() or "unknown format"
            raise EngineInputError(f"Cannot write image '{path.name}' ({reason}).")
        try:
            if not out.open(str(tmp), spec) or not out.write_image(array):
                raise EngineInputError(f"Cannot write image '{path.name}' ({out.geterror()}).")
        finally:
            out.close()
