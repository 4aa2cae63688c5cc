"""Time and memory of the PCA noise level (``noise_estimate.pca_level``) on large textures.

``.venv/bin/python bench/noise_estimate_bench.py [--sizes 512,1024,2048,4096] [--out F]``

Every measurement runs in its own process, one thread, on the luminance of a noisy colour
texture (scikit-image's ``astronaut`` resized bicubically to the size, white noise σ 20). **Baseline**:
the covariance of *all* the 7×7 patches unfolded at once (the engine's code before this
bench: 1.6 GB per 2048² channel), whose noise level is exact at stride 1. **Ours**:
``pca_level`` as the engine runs it (bands of rows, a wider stride above a million patches).
Figures are CPU seconds and the peak resident memory the call added (sampled every 2 ms), and
the ratio of ours to the baseline in the same run; σ is in 8-bit levels. The results are
written to ``bench/results_noise_estimate.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from openpipeline.engine.texture.noise_estimate import level_of_covariance, pca_level
from openpipeline.engine.texture.noise_model import NoiseModel

RESULTS = Path(__file__).with_name("results_noise_estimate.md")
BASELINE_MAX_SIZE = 2048  # the baseline unfolds 13 GB at 4096²: not run there


def baseline_level(channel: torch.Tensor) -> float:
    """The noise level as the engine read it before: every patch unfolded at once."""
    patches = F.unfold(channel[None, None].double(), 7, stride=1)[0].T
    patches = patches - patches.mean(dim=0, keepdim=True)
    return level_of_covariance(patches.T @ patches / max(patches.shape[0] - 1, 1))


def luminance(size: int) -> torch.Tensor:
    """The luminance (opponent channel 0) of the noisy texture at ``size``²."""
    from skimage import data

    astronaut = data.astronaut()  # type: ignore[no-untyped-call]
    photo = torch.from_numpy(astronaut.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    resized = F.interpolate(photo, size=(size, size), mode="bicubic", align_corners=False)
    clean = resized[0].permute(1, 2, 0).clamp(0, 1).numpy()
    noisy = np.clip(clean + np.random.default_rng(size).normal(0, 20 / 255, clean.shape), 0, 1)
    tensor = torch.from_numpy(np.ascontiguousarray(noisy.transpose(2, 0, 1), dtype=np.float32))[None]
    return NoiseModel.white(1.0, 3).to_space(tensor)[0, 0].double().contiguous()


def measure(path: str, which: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """In a fresh process: the channel saved at ``path`` is loaded (a few MB at most), so
    the peak memory added is the call's own."""
    torch.set_num_threads(1)
    channel = torch.from_numpy(np.load(path))
    before = resident_bytes()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], resident_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.process_time()
    level = baseline_level(channel) if which == "baseline" else pca_level(channel)
    seconds = time.process_time() - start
    done.set()
    sampler.join()
    queue.put((float(np.sqrt(level) * 255), seconds, (peak[0] - before) / 2**20))


def resident_bytes() -> int:
    """The process's resident memory now (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def run(path: Path, which: str) -> tuple[float, float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=measure, args=(str(path), which, queue))
    process.start()
    result = queue.get()
    process.join()
    return result  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,1024,2048,4096")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = [
        "# PCA noise level on large textures (`bench/noise_estimate_bench.py`)",
        "",
        f"_{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}; one thread, one "
        "process per measurement; luminance of `astronaut` resized, white σ 20._",
        "",
        "| size | baseline σ | ours σ | baseline CPU s | ours CPU s | CPU ratio | baseline peak MB added "
        "| ours peak MB added | memory ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    folder = Path(tempfile.mkdtemp(prefix="noise-bench-"))
    for size in (int(s) for s in args.sizes.split(",")):
        path = folder / f"luminance{size}.npy"
        np.save(path, luminance(size).numpy())
        ours = run(path, "ours")
        if size <= BASELINE_MAX_SIZE:
            base = run(path, "baseline")
            lines.append(f"| {size}² | {base[0]:.2f} | {ours[0]:.2f} | {base[1]:.2f} | {ours[1]:.2f} | "
                         f"{ours[1] / base[1]:.2f} | {base[2]:.0f} | {ours[2]:.0f} | "
                         f"{ours[2] / max(base[2], 1):.3f} |")
        else:
            lines.append(f"| {size}² | not run (~13 GB) | {ours[0]:.2f} | – | {ours[1]:.2f} | – | – | "
                         f"{ours[2]:.0f} | – |")
        print(lines[-1], flush=True)
        path.unlink()
    folder.rmdir()
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
