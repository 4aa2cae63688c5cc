"""The demo: builds a sample project and prints what it made.

``openpipeline demo [DIR]`` creates ``DIR/demo-<time>/`` (never touching an
earlier run) with assets, shots and components, several workshops by two
artists, masters with earlier masters kept in ``version/``, a save refused because
the file is no Maya scene, a master blocked by a studio validator, an archive, a
check-out, a delete and a restore; then prints the file tree and one item's history.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from openpipeline.core import archive, checkout, removal, validators, versions
from openpipeline.core.address import ItemRef
from openpipeline.core.errors import SourceFileError, ValidationFailedError
from openpipeline.core.identity import short_time
from openpipeline.core.items import Item
from openpipeline.core.project import Project


def _scene(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.ma"
    path.write_text(
        "//Maya ASCII 2025 scene\n"
        f"//Name: {name}.ma\n"
        'requires maya "2025";\n'
        f"// {body}\n",
        encoding="utf-8",
    )
    return path


class _NoTodo:
    """A studio validator of the demo: a scene that still says TODO is not ready."""

    name = "no_todo"

    def check(self, context: validators.ValidationContext) -> list[str]:
        return ["The scene still says TODO."] if b"TODO" in context.staged.read_bytes() else []


def _refused_and_blocked(rig: Item, scratch: Path, log: list[str]) -> None:
    """A save of a file that is no Maya scene is refused; a master is blocked by a validator."""
    broken = scratch / "broken.ma"
    broken.write_text("this is not a Maya file\n", encoding="utf-8")
    try:
        versions.save_workshop(rig, broken, note="exported from the wrong tool", author="bob")
    except SourceFileError as exc:
        log.append(f"bob's save was refused: {exc}")
    unfinished = _scene(scratch, "rig_todo", "TODO: paint the skin weights")
    versions.save_workshop(rig, unfinished, note="weights to do", author="bob")
    validators.register(_NoTodo())
    try:
        versions.master(rig, note="try to master an unfinished rig", author="bob")
    except ValidationFailedError as exc:
        log.append(f"validator blocked bob's master: {exc.report[0]['message']}")
    finally:
        validators.unregister(_NoTodo.name)


def build(target: Path) -> tuple[Project, list[str]]:
    """Build the sample project in ``target``; returns it and a log of what happened."""
    log: list[str] = []
    project = Project.create(
        target, "demo", description="OpenPipeline sample project", deadline="2027-03-31",
        users=["alice", "bob"],
    )
    log.append(f"created project 'demo' at {target}")
    scratch = Path(tempfile.mkdtemp(prefix="openpipeline-demo-"))
    addresses = [
        "asset/character/hero", "asset/character/hero/model", "asset/character/hero/rig",
        "asset/prop/chair", "asset/prop/table", "shot/sq010/sh010", "shot/sq010/sh020",
        "shot/sq010/sh020/anim", "shot/sq020/sh010",
    ]
    items = {}
    for address in addresses:
        items[address] = project.create_item(ItemRef.parse(address), author="alice",
                                             description=f"Sample {address.split('/')[-1]}")
        log.append(f"created {address}")
    for address, saves in (("asset/character/hero/model", 4), ("asset/character/hero/rig", 2),
                           ("asset/prop/chair", 5), ("shot/sq010/sh010", 3),
                           ("shot/sq010/sh020/anim", 2)):
        for n in range(1, saves + 1):
            author = "alice" if n % 2 else "bob"
            scene = _scene(scratch, f"{address.replace('/', '_')}_{n}", f"{address} pass {n}")
            saved = versions.save_workshop(items[address], scene, note=f"pass {n}",
                                           author=author)
            log.append(f"{author} saved workshop {saved.version} of {address}")
    for address, workshop in (("asset/character/hero/model", 2), ("asset/character/hero/model", 4),
                              ("asset/prop/chair", 3), ("asset/prop/chair", 5),
                              ("shot/sq010/sh010", None)):
        mastered = versions.master(items[address], workshop, note="approved in dailies",
                                   author="alice")
        kept = mastered.data.preserved_version
        log.append(f"alice mastered workshop {mastered.data.workshop} of {address}"
                   + (f" (old master kept as version {kept})" if kept else ""))
    _refused_and_blocked(items["asset/character/hero/rig"], scratch, log)
    checkout.acquire(items["asset/character/hero/model"], author="alice",
                     note="retopology")
    log.append("alice checked out asset/character/hero/model")
    archived = archive.archive(items["asset/prop/chair"], keep=1, author="alice",
                               note="tidy up")
    assert archived is not None
    log.append(f"archived chair workshops {list(archived.data.workshops)} and versions "
               f"{list(archived.data.versions)}")
    removal.delete(items["asset/prop/table"], author="bob", note="cut from the film")
    log.append("bob deleted asset/prop/table")
    removal.restore(project, ItemRef.parse("asset/prop/table"), author="alice",
                    note="back in the film")
    log.append("alice restored asset/prop/table")
    for leftover in scratch.iterdir():
        leftover.unlink()
    scratch.rmdir()
    return project, log


def scatter_demo(folder: Path) -> list[str]:
    """Scatter points over a ground plane by a density map; write the files and a picture."""
    import numpy as np

    from openpipeline.engine.images import read_image, write_image
    from openpipeline.engine.scatter import DensityMap, ScatterParams, scatter, write_points
    from openpipeline.engine.scatter.preview import top_view
    from openpipeline.engine.scatter.primitives import plane

    folder.mkdir(parents=True, exist_ok=True)
    size = 256
    grid = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(grid, 1.0 - grid)
    # a clearing in a meadow: dense grass around, sparse in a ring-shaped path
    radius = np.hypot(u - 0.5, v - 0.5)
    values = 1.0 + 9.0 * np.clip(np.abs(radius - 0.3) / 0.15, 0.0, 1.0)
    density_path = folder / "meadow_density.png"
    write_image(density_path, (values / 10.0)[..., None], "uint8")
    density = DensityMap(read_image(density_path))
    ground = plane(size=4.0, divisions=32)
    result = scatter(ground, ScatterParams(count=4000, seed=1), density)
    lines = [f"scattered {result.count} points on a ground plane by {density_path.name} "
             f"in {result.stats['seconds']:.1f} s"]
    for name in ("meadow_points.npz", "meadow_points.usda"):
        write_points(result, folder / name)
        lines.append(f"wrote {name}")
    picture = folder / "meadow_scatter.png"
    write_image(picture, top_view(result.positions, 512, density, result.uvs), "uint8")
    lines.append(f"wrote {picture.name} (points over the density map, seen from above)")
    return lines


def sample_texture(size: int = 256) -> Any:
    """A procedural stone-tile texture with grout lines and a fine grain (no data files needed)."""
    import numpy as np

    y, x = np.mgrid[0:size, 0:size] / size
    tiles = ((np.floor(x * 4) + np.floor(y * 4)) % 2) * 0.15
    grout = np.maximum(np.abs((x * 4) % 1 - 0.5), np.abs((y * 4) % 1 - 0.5)) > 0.47
    rng = np.random.default_rng(7)
    waves = zip(rng.uniform(20, 70, 12), rng.uniform(0, np.pi, 12), rng.random(12), strict=True)
    grain = sum(np.sin(2 * np.pi * (f * (np.cos(a) * x + np.sin(a) * y) + p)) / f ** 0.5 for f, a, p in waves)
    base = 0.45 + tiles + 0.1 * np.sin(17 * x + 9 * y) * np.cos(11 * y) + 0.035 * grain
    rgb = np.stack([base * 1.05, base * 0.95, base * 0.85], -1)
    rgb[grout] = (0.25, 0.24, 0.22)
    return np.clip(rgb, 0, 1).astype(np.float32)


# The before/after panels are shown pixel for pixel: the demo restores a 256 px texture (the
# classical chain takes seconds), so a person judges the restored pixels at their own size.
PANEL_ZOOM = 1


def side_by_side(*panels: Any, zoom: int = PANEL_ZOOM) -> Any:
    """Panels of one size, each magnified ``zoom`` times by pixel repetition, left to right
    with a white gap of ``zoom`` × 4 px between them.

    >>> import numpy as np
    >>> side_by_side(np.zeros((2, 2, 3)), np.ones((2, 2, 3)), zoom=3).shape
    (6, 24, 3)
    """
    import numpy as np

    big = [np.repeat(np.repeat(np.asarray(p, np.float32), zoom, 0), zoom, 1) for p in panels]
    gap = np.ones((big[0].shape[0], 4 * zoom, big[0].shape[2]), np.float32)
    parts = [part for panel in big for part in (panel, gap)][:-1]
    return np.concatenate(parts, 1)


def texture_demo(folder: Path) -> list[str]:
    """Denoise and inpaint a 256 px sample texture with the engine's defaults (the checked
    classical estimate, no network fit); write before/after side by side."""
    import numpy as np

    from openpipeline.engine.images import write_image
    from openpipeline.engine.texture import RestoreParams, restore

    folder.mkdir(parents=True, exist_ok=True)
    clean = sample_texture()
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + rng.normal(0, 25 / 255, clean.shape), 0, 1).astype(np.float32)
    denoised = restore(noisy, RestoreParams(operation="denoise"))
    size = clean.shape[0]
    holes = np.zeros(clean.shape[:2], np.float32)
    for row in range(size // 8, size - size // 16, size // 4):  # a watermark: bars of "text"
        holes[row:row + size // 20, size // 12:size - size // 12] = 1.0
    stamped = np.where(holes[..., None] > 0, 1.0, clean).astype(np.float32)
    inpainted = restore(stamped, RestoreParams(operation="inpaint"), holes)

    def psnr(a: Any, b: Any) -> float:
        return float(-10 * np.log10(np.mean((np.clip(a, 0, 1) - b) ** 2)))

    write_image(folder / "denoise_before_after.png", side_by_side(noisy, denoised.image, clean), "uint8")
    write_image(folder / "inpaint_before_after.png", side_by_side(stamped, inpainted.image, clean), "uint8")
    return [
        f"denoised a {size}×{size} texture: {psnr(noisy, clean):.1f} dB -> "
        f"{psnr(denoised.image, clean):.1f} dB (σ estimated {denoised.stats['sigma']:.1f}, "
        f"{', '.join(denoised.stats['stop_reasons'])})",
        f"inpainted a watermark: {psnr(stamped, clean):.1f} dB -> {psnr(inpainted.image, clean):.1f} dB "
        f"({', '.join(inpainted.stats['stop_reasons'])})",
        f"wrote denoise_before_after.png and inpaint_before_after.png (before | after | original, "
        f"{size * PANEL_ZOOM} px per panel)",
    ]


def tree(root: Path) -> list[str]:
    """The project's folders and files, without hidden metadata."""
    lines = [f"{root.name}/"]

    def walk(folder: Path, prefix: str) -> None:
        entries = sorted(e for e in folder.iterdir() if not e.name.startswith("."))
        for index, entry in enumerate(entries):
            last = index == len(entries) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{entry.name}"
                         + ("/" if entry.is_dir() else ""))
            if entry.is_dir():
                walk(entry, prefix + ("    " if last else "│   "))

    walk(root, "")
    return lines


def run(base: Path, as_json: bool = False) -> dict[str, Any]:
    """Build the demo under ``base`` and print the tree and a history."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = base.absolute() / f"demo-{stamp}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = base.absolute() / f"demo-{stamp}-{suffix}"
    project, log = build(target)
    log += scatter_demo(project.root / "renders" / "scatter")
    log += texture_demo(project.root / "textures" / "restored")
    chair = project.item("asset/prop/chair")
    summary: dict[str, Any] = {
        "project": str(project.root),
        "log": log,
        "tree": tree(project.root),
        "history": [
            {"time": e.time, "author": e.author, "event": e.event, "version": e.version,
             "comment": e.comment}
            for e in chair.events()
        ],
    }
    if as_json:
        print(json.dumps(summary, indent=2))
        return summary
    print("== What happened")
    print("\n".join(f"  {line}" for line in log))
    print("\n== Project tree (hidden .op metadata not shown)")
    print("\n".join(summary["tree"]))
    print("\n== History of asset/prop/chair")
    for e in summary["history"]:
        version = f"v{e['version']}" if e["version"] is not None else ""
        print(f"  {short_time(e['time'])}  {e['author']:<6} {e['event']:<9} "
              f"{version:<5} {e['comment']}")
    print(f"\nTry: openpipeline --project {os.path.relpath(project.root)} item show "
          "asset/prop/chair")
    return summary
