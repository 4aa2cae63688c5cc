"""Keep freed memory in the process, so the engine's big tensors are not page-faulted in again.

glibc's ``malloc`` hands every block above its mmap threshold (128 KB at first, rising
with use up to 32 MB) to the kernel on free, and gives back the heap's free top above twice
that; the next block is fresh, zeroed pages, faulted in one by one. The classical steps
make and drop tensors of megabytes thousands of times. With the settings below (blocks up
to :data:`MMAP_THRESHOLD` from the heap, up to :data:`TRIM_THRESHOLD` of free memory kept
at the heap's top, the heap grown by :data:`TOP_PAD` at a time), one thread: a 1024² colour
denoise in 256² tiles page-faulted 1.56 M → 0.10 M times, 230 → 222 s, peak memory the
same (576 MB); a 512² colour inpainting tile with strokes 94 → 85 s; the calibration jobs
in a fresh process (192² inpainting 8.2 → 4.3 s, denoising 5.3 → 4.5 s, ×4 upscaling
6.8 → 5.7 s; less once the process has warmed up, as a calibration's has). A few per cent
on most work, more on small tiles. (Measured with a 64 MB threshold; 32 MB, the most glibc
before 2.35 accepts, did as well: a 512² colour tile's fill, 60 thresholding steps and the
patch fill, page-faulted 1.43 M times and took 26.3 s with the system's settings, 0.44 M and
21.2 s with either.)

:func:`keep_freed_memory` is called by the processes the engine owns (the command line,
the farm task, the Maya node's worker subprocess), never inside Maya or a host application,
whose allocator is not ours to set (importing the engine sets nothing). It does nothing
off glibc Linux, when the user has set any of these settings (``MALLOC_MMAP_THRESHOLD_``
and the like, or the same in ``GLIBC_TUNABLES``: theirs win), or when :data:`OPT_OUT_ENV`
is ``1``.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt's parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # blocks above this are still mapped and unmapped (glibc's own ceiling)
TRIM_THRESHOLD = 256 << 20  # free memory kept at the heap's top before it is given back
TOP_PAD = 64 << 20  # the heap grows by this much at a time
OPT_OUT_ENV = "OPENPIPELINE_SYSTEM_MALLOC"  # "1": leave malloc as the system set it
# The user's own settings of the same knobs (environment variables, and names in GLIBC_TUNABLES)
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
USER_TUNABLES = ("malloc.mmap_threshold", "malloc.trim_threshold", "malloc.top_pad", "malloc.mmap_max")


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep freed memory (see the module doc); True when it was set.
    Never raises: a process that cannot set it runs as it would have."""
    if not sys.platform.startswith("linux") or os.environ.get(OPT_OUT_ENV) == "1":
        return False
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if any(name in os.environ for name in USER_SETTINGS) or any(name in tunables for name in USER_TUNABLES):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has a mallopt that does nothing)
        mallopt = libc.mallopt
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
        # the threshold first: setting either of the others also stops glibc raising it by itself,
        # which without a higher threshold would be worse than leaving malloc alone
        if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
            return False
        return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and mallopt(M_TOP_PAD, TOP_PAD) == 1)
    except Exception:  # an allocator setting is never worth a failed job
        return False
