"""Pipeline core benchmark: listing 10,000 items, showing a history, save overhead.

Run: ``make bench`` (or ``.venv/bin/python bench/core_bench.py [--items N]``).
Every figure is printed beside a baseline measured in the same run on the same
disk, so the ratios hold across machines:

* listing: ``Project.list_items()`` against a bare ``os.walk`` of the same trees;
* history: ``Item.events()`` + ``Item.state()`` of an item with 200 events;
* save: ``save_workshop`` against ``shutil.copyfile`` + ``fsync`` of the same file,
  run in interleaved pairs (the overhead is the median difference of the pairs).

Targets (issue 2): list ≤ 0.2 s for 10,000 items; save overhead ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from openpipeline.core import ItemRef, Project, versions
from openpipeline.core.items import Item

END_OF_SCENE = b'\nrequires maya "2025";\n'  # a whole statement last: saves check for it


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def build_project(root: Path, target_items: int) -> Project:
    project = Project.create(root, "bench")
    types, assets_per_type, comps_per_asset = 20, max(target_items // 100, 1), 2
    sequences, shots_per_seq = 10, max(target_items // 50, 1)
    count = 0
    for t in range(types):
        for a in range(assets_per_type):
            ref = ItemRef("asset", (f"type{t:02d}", f"asset{a:04d}"))
            project.create_item(ref)
            count += 2 if a == 0 else 1
            for c in range(comps_per_asset):
                project.create_item(ref.child(f"comp{c}"))
                count += 1
    for s in range(sequences):
        for h in range(shots_per_seq):
            ref = ItemRef("shot", (f"sq{s:03d}", f"sh{h:04d}"))
            project.create_item(ref)
            project.create_item(ref.child("anim"))
            count += 3 if h == 0 else 2
    return project


def bare_walk(project: Project) -> int:
    n = 0
    for top in ("lib", "scenes"):
        for _folder, dirs, _files in os.walk(project.root / top):
            n += len(dirs)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--save-mb", type=float, default=20.0)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="op-bench-") as tmp:
        tmp_path = Path(tmp)
        start = time.perf_counter()
        project = build_project(tmp_path / "proj", args.items)
        build_s = time.perf_counter() - start
        items = project.list_items()
        list_s = statistics.median(timed(project.list_items, 7))
        walk_s = statistics.median(timed(lambda: bare_walk(project), 7))

        item = project.item("asset/type00/asset0000")
        scene = tmp_path / "scene.ma"
        scene.write_bytes(b"//Maya ASCII 2025 scene\n//" + b"x" * 1000 + END_OF_SCENE)
        for n in range(100):
            versions.save_workshop(item, scene, note=f"note {n}")
        for n in range(99):
            versions.master(item, n + 1, note="m")
        history_s = statistics.median(timed(lambda: item.state(item.events()), 7))
        events = len(item.events())

        figures = {"items": len(items), "build_s": build_s, "list_s": list_s,
                   "bare_walk_s": walk_s, "history_events": events, "history_s": history_s}
        for label, size in (("small", 1024), ("large", int(args.save_mb * 1024 * 1024))):
            source = tmp_path / f"{label}.ma"
            source.write_bytes(b"//Maya ASCII 2025 scene\n" + os.urandom(size) + END_OF_SCENE)
            target = project.create_item(ItemRef("asset", ("savebench", label)))
            copies = tmp_path / "copies"
            copies.mkdir(exist_ok=True)

            def plain_copy(source: Path = source, copies: Path = copies) -> None:
                dest = copies / f"c{time.perf_counter_ns()}.ma"
                shutil.copyfile(source, dest)
                with open(dest, "rb+") as handle:
                    os.fsync(handle.fileno())

            def save(source: Path = source, target: Item = target) -> None:
                versions.save_workshop(target, source, note="bench")

            # Interleaved pairs: the disk's write-back state affects both alike.
            copies_s, saves_s = [], []
            for _ in range(11):
                copies_s += timed(plain_copy, 1)
                saves_s += timed(save, 1)
            copy_s = statistics.median(copies_s)
            save_s = statistics.median(saves_s)
            figures[f"save_{label}_bytes"] = size
            figures[f"save_{label}_copy_s"] = copy_s
            figures[f"save_{label}_s"] = save_s
            figures[f"save_{label}_overhead_ms"] = statistics.median(
                s - c for s, c in zip(saves_s, copies_s, strict=True)) * 1000

    print(f"project: {figures['items']} items (built in {build_s:.1f} s)")
    print(f"list all items      {list_s * 1000:8.1f} ms   bare os.walk {walk_s * 1000:6.1f} ms   "
          f"ratio {list_s / walk_s:5.2f}x   target <= 200 ms: {'OK' if list_s <= 0.2 else 'MISSED'}")
    print(f"history + state     {history_s * 1000:8.1f} ms   ({events} events)")
    for label in ("small", "large"):
        overhead = figures[f"save_{label}_overhead_ms"]
        print(f"save {label:<5} {figures[f'save_{label}_bytes'] / 1e6:8.2f} MB  "
              f"save {figures[f'save_{label}_s'] * 1000:7.1f} ms   "
              f"copy+fsync {figures[f'save_{label}_copy_s'] * 1000:7.1f} ms   "
              f"overhead {overhead:6.1f} ms   target <= 50 ms: {'OK' if overhead <= 50 else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
