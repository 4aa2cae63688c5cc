"""Image reading through OpenImageIO (PNG, JPEG, TIFF, EXR, .tx, ...).

Images come back as float32 arrays (H, W, C) in the file's own value range
(unsigned integers are scaled to 0..1, signed integers to -1..1, float data is
left as it is), with the channel names, so density maps and textures are read
the same way everywhere. Writing goes under a temporary name first (see
:func:`openpipeline.atomic.publish`); ``.tx`` files are written as tiled,
mip-mapped textures.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from openpipeline.atomic import publish
from openpipeline.engine.errors import EngineInputError

# What each pixel type can hold without loss: a file of the key's type written as
# one of the value's types keeps every value.
HOLDS: dict[str, tuple[str, ...]] = {
    "uint8": ("uint8", "uint16", "uint32", "half", "float", "double"),
    "int8": ("int8", "int16", "int32", "half", "float", "double"),
    "uint16": ("uint16", "uint32", "float", "double"),
    "int16": ("int16", "int32", "float", "double"),
    "uint32": ("uint32", "double"),
    "int32": ("int32", "double"),
    "half": ("half", "float", "double"),
    "float": ("float", "double"),
    "double": ("double",),
}
SIGNED_INTEGERS = ("int8", "int16", "int32", "int64")
FLOATS = ("half", "float", "double")


def one_line(text: str) -> str:
    """A library's (possibly multi-line) complaint as one clause: lines joined by '; '.

    >>> one_line("too big\\n  raise the limit\\n")
    'too big; raise the limit'
    """
    parts = [line.strip().rstrip(".") for line in text.splitlines() if line.strip()]
    return "; ".join(parts)


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

    @property
    def is_float(self) -> bool:
        """The file holds floating-point data (any value range)."""
        return self.format in FLOATS

    @property
    def is_signed(self) -> bool:
        """The file holds signed integers (read as -1..1)."""
        return self.format in SIGNED_INTEGERS


def _alpha_index(spec: Any) -> int:
    """The alpha channel's index, or -1: OpenImageIO's, when it names a real channel
    (its GIF reader reports index 4 on a 4-channel image), else a channel named 'A'."""
    names = list(spec.channelnames)
    if 0 <= spec.alpha_channel < spec.nchannels:
        return int(spec.alpha_channel)
    return names.index("A") if "A" in names else -1


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
            reason = one_line(oiio.geterror()) or "unknown format"
            raise EngineInputError(f"Cannot read image '{path.name}' ({reason}).")
        try:
            spec = source.spec()
            pixels = source.read_image(0, 0, 0, spec.nchannels, "float")
            problem = one_line(source.geterror())
        finally:
            source.close()
    if pixels is None:
        detail = f" ({problem})" if problem else ""
        raise EngineInputError(f"Image '{path.name}' is damaged and cannot be decoded{detail}.")
    array = np.asarray(pixels, dtype=np.float32).reshape(spec.height, spec.width, spec.nchannels)
    if not np.isfinite(array).all():
        raise EngineInputError(f"Image '{path.name}' holds NaN or infinite values; fix it first.")
    return Image(array, list(spec.channelnames), str(spec.format), _alpha_index(spec), spec)


def writer_problem(path: str | Path) -> str | None:
    """Why OpenImageIO cannot write ``path`` (its extension names no format it writes); None when it can."""
    import OpenImageIO as oiio

    path = Path(path)
    if oiio.ImageOutput.create(str(path)) is None:
        oiio.geterror()  # clear it
        what = f"no writer for '{path.suffix}' files" if path.suffix else "it has no extension"
        return f"Cannot write '{path.name}' ({what}); use .png, .jpg, .tif, .exr or .tx."
    return None


def _written_as(path: Path, dtype: str, channels: int) -> tuple[str, int, bool]:
    """What the writer for ``path``'s extension makes of ``dtype`` × ``channels``:
    (pixel type, channel count, whether it keeps alpha). Probes a 1×1 file in a
    temporary folder (cost: one tiny file write)."""
    import OpenImageIO as oiio

    with tempfile.TemporaryDirectory() as folder, quiet_native_stderr():
        probe = str(Path(folder) / f"probe{path.suffix}")
        out = oiio.ImageOutput.create(probe)
        if out is None:
            oiio.geterror()  # clear it: writer_problem reports an unknown format
            return dtype, channels, True
        opened = out.open(probe, oiio.ImageSpec(1, 1, channels, dtype))
        spec = out.spec()
        kept = (str(spec.format), int(spec.nchannels) if opened else 0, bool(out.supports("alpha")))
        if opened:
            out.write_image(np.zeros((1, 1, channels), np.float32))  # a complete file: no complaint
        out.geterror()
        out.close()
        del out  # closed while stderr is quiet
    return kept


def lossy_problem(path: str | Path, image: Image) -> str | None:
    """Why writing ``image``'s pixels to ``path`` would lose data (bit depth, value range,
    alpha or channels); None when the format keeps everything.

    Example: an HDR EXR written as PNG is clipped to 0..1 and 8 or 16 bits.
    """
    path = Path(path)
    channels = image.pixels.shape[2]
    dtype, kept_channels, keeps_alpha = _written_as(path, image.format, channels)
    suffix = path.suffix.lower()
    if kept_channels != channels or (suffix in (".jpg", ".jpeg") and channels not in (1, 3)):
        return f"'{path.name}' cannot hold {channels} channels"
    if image.alpha_channel >= 0 and not keeps_alpha:
        return f"'{path.name}' cannot hold the alpha channel"
    if dtype not in HOLDS.get(image.format, (image.format,)):
        return f"'{path.name}' would store {image.format} pixels as {dtype}"
    return None


def _write_plain(path: Path, array: NDArray[np.float32], spec: Any) -> None:
    import OpenImageIO as oiio

    out = oiio.ImageOutput.create(str(path))
    if out is None:
        reason = one_line(oiio.geterror()) or "unknown format"
        raise EngineInputError(f"Cannot write image '{path.name}' ({reason}).")
    try:
        if not out.open(str(path), spec) or not out.write_image(array):
            raise EngineInputError(f"Cannot write image '{path.name}' ({one_line(out.geterror())}).")
    finally:
        out.close()


def _write_texture(path: Path, array: NDArray[np.float32], spec: Any) -> None:
    """A tiled, mip-mapped texture (``maketx``) of the pixels, in ``spec``'s pixel type."""
    import OpenImageIO as oiio

    source = oiio.ImageBuf(oiio.ImageSpec(spec.width, spec.height, spec.nchannels, "float"))
    source.specmod().channelnames = spec.channelnames
    source.specmod().alpha_channel = spec.alpha_channel
    source.set_pixels(oiio.ROI(), array)
    config = oiio.ImageSpec()
    config.format = spec.format
    if not oiio.ImageBufAlgo.make_texture(oiio.MakeTxTexture, source, str(path), config):
        raise EngineInputError(f"Cannot write texture '{path.name}' ({one_line(oiio.geterror())}).")


def write_image_to(
    path: str | Path,
    pixels: NDArray[np.floating],
    dtype: str = "uint8",
    channel_names: list[str] | tuple[str, ...] | None = None,
    alpha_channel: int = -1,
) -> None:
    """Write an image straight to ``path`` (no temporary name: the caller publishes it).

    ``.tx`` becomes a tiled, mip-mapped texture; other extensions a plain image.
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
    with quiet_native_stderr():
        if path.suffix.lower() == ".tx":
            _write_texture(path, array, spec)
        else:
            _write_plain(path, array, spec)


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
    path = Path(path)
    with publish(path) as tmp:
        write_image_to(tmp, pixels, dtype, channel_names, alpha_channel)
