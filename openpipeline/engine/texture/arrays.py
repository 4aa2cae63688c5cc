"""The engine's one way from a numpy image to a torch tensor."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray


def image_tensor(image: NDArray[np.floating]) -> torch.Tensor:
    """An (H, W, C) or (H, W) array in 0..1 as a float32 (1, C, H, W) tensor.

    On a copy where the array is read-only (a memory-mapped file, a host application's
    buffer), is not float32 or is not laid out channel-first: torch warns of any non-writable
    array it is handed, and the caller's image is never written through the tensor."""
    array = image if image.ndim == 3 else image[..., None]
    return torch.from_numpy(np.require(array.transpose(2, 0, 1), np.float32, ("C", "W")))[None]
