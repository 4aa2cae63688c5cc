"""Browser benchmark: time to first paint and to filter on a 10,000-item project.

Builds a project of ``--items`` items through the core (``Project.create_item``; one in
``--saved-every`` assets gets a workshop, half of those a master), then, offscreen:

- *first paint*: from creating the window to the Asset Browser's lists painted with
  every name; against an empty window (no project) in the same run.
- *all markers*: until every row's details (history, master, check-out) are read, and the
  longest the UI thread went without handling events meanwhile (a stall: the gap
  between ticks of a 5 ms timer, from the first paint on).
- *filter*: typing a search text until the filtered lists are painted; against a naive
  model whose ``data()`` reads the item's history from disk per row (what made the slow
  browsers slow), filtered by the same proxy.

Ratios are against the baselines of the same run; absolute figures are printed too.
The project is built in /dev/shm when there is one (``--dir`` to choose): the core
fsyncs every record, and on a slow disk building 10,000 items takes minutes; the
browser reads from the page cache either way.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from Qt import QtCore, QtWidgets

from openpipeline.core import ItemRef, Project, versions
from openpipeline.core.items import Item
from openpipeline.host.null import NullHost
from openpipeline.ui.context import BrowserContext
from openpipeline.ui.window import BrowserWindow

SCENE = b"//Maya ASCII 2025 scene\n// bench\nrequires maya \"2025\";\n"


def build_project(root: Path, target_items: int, saved_every: int) -> Project:
    """About ``target_items`` items: 4/5 in the asset library, 1/5 in shots, each with a component."""
    project = Project.create(root, "bench")
    scene = root.parent / "scene.ma"
    scene.write_bytes(SCENE)
    assets_per_type, types = max(target_items * 4 // 5 // 2 // 20, 1), 20
    shots_per_sequence, sequences = max(target_items // 5 // 2 // 10, 1), 10
    count = 0
    for tab, groups, per_group, group_name, name in (
            ("asset", types, assets_per_type, "type", "asset"),
            ("shot", sequences, shots_per_sequence, "sq", "sh")):
        for g in range(groups):
            for n in range(per_group):
                ref = ItemRef(tab, (f"{group_name}{g:02d}", f"{name}{n:04d}"))
                item = project.create_item(ref)
                project.create_item(ref.child("model" if tab == "asset" else "anim"))
                count += 2
                if count % (2 * saved_every) == 0:
                    versions.save_workshop(item, scene, note="bench")
                    if count % (4 * saved_every) == 0:
                        versions.master(item, note="bench")
    return project


def pump_until(done: Callable[[], bool], timeout_s: float = 300.0) -> float:
    """Process events until ``done()``; returns the seconds it took."""
    app = QtWidgets.QApplication.instance()
    start = time.perf_counter()
    while not done():
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError("the browser did not load in time")
    return time.perf_counter() - start


def painted(widget: Any) -> None:
    """Draw the widget now (what the screen would show), through the whole widget tree."""
    widget.grab()


class StallMeter:
    """The longest gap between ticks of a 5 ms timer: how long the UI thread was busy."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.longest = 0.0
        self.timer = QtCore.QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()


def first_paint(project: Project | None) -> tuple[float, float, float, BrowserWindow]:
    """(first paint s, all markers s, longest stall s, window) for one window."""
    start = time.perf_counter()
    window = BrowserWindow(BrowserContext(project, NullHost(), author="bench", opener=lambda p: None))
    window.show_tab("asset")
    window.show()
    if project is not None:
        pump_until(lambda: window.assets.filters[1].rowCount() > 0)  # types and assets listed
    painted(window)
    first = time.perf_counter() - start
    meter = StallMeter()  # from the first paint on: how long the window stops answering
    meter.start()
    pump_until(lambda: window.is_loaded)
    loaded = time.perf_counter() - start
    meter.timer.stop()
    return first, loaded, meter.longest, window


class NaiveModel(QtCore.QAbstractListModel):
    """The slow way: each row's text and marker read from disk when asked for."""

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self.refs = project.list_items(tab="asset")

    def rowCount(self, parent: Any = None) -> int:
        return len(self.refs)

    def data(self, index: Any, role: int = int(QtCore.Qt.ItemDataRole.DisplayRole)) -> Any:
        if int(role) != int(QtCore.Qt.ItemDataRole.DisplayRole):
            return None
        ref = self.refs[index.row()]
        if not ref.holds_files:
            return ref.address
        state = Item(self.project, ref).state()
        return f"{ref.address} {'master' if state.master else len(state.workshops)}"


def filter_times(window: BrowserWindow, project: Project, texts: list[str]) -> tuple[float, float]:
    """Median seconds to filter and repaint: the browser's proxies vs the naive model's."""
    browser = window.assets
    browser.select("asset/type00")
    ours, naive = [], []
    view = QtWidgets.QListView()
    proxy = QtCore.QSortFilterProxyModel()
    proxy.setSourceModel(NaiveModel(project))
    proxy.setFilterCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
    view.setModel(proxy)
    view.resize(300, 600)
    view.show()
    for text in texts:
        start = time.perf_counter()
        browser.search.setText(text)
        painted(browser)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        proxy.setFilterFixedString(text)
        painted(view)
        naive.append(time.perf_counter() - start)
    browser.search.setText("")
    return statistics.median(ours), statistics.median(naive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--saved-every", type=int, default=50, help="one asset in N gets a workshop")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--dir", default="/dev/shm" if os.access("/dev/shm", os.W_OK) else None,
                        help="where to build the project (default: /dev/shm if writable)")
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    with tempfile.TemporaryDirectory(prefix="op-browser-bench-", dir=args.dir) as tmp:
        start = time.perf_counter()
        project = build_project(Path(tmp) / "proj", args.items, args.saved_every)
        build_s = time.perf_counter() - start
        items = len(project.list_items())
        empty_paint, _, _, empty = first_paint(None)
        empty.close()
        paint_s, loaded_s, stall_s, window = first_paint(project)
        ours_s, naive_s = filter_times(window, project, ["asset01", "0042", "type03", "x"])
        window.close()
    app.processEvents()
    figures = {"items": items, "build_s": build_s, "empty_first_paint_s": empty_paint,
               "first_paint_s": paint_s, "all_markers_s": loaded_s, "longest_stall_s": stall_s,
               "filter_s": ours_s, "naive_filter_s": naive_s}
    print(f"project: {items} items (built in {build_s:.1f} s)")
    print(f"first paint         {paint_s * 1000:8.1f} ms   empty window {empty_paint * 1000:7.1f} ms   "
          f"ratio {paint_s / empty_paint:6.2f}x")
    print(f"all markers read    {loaded_s * 1000:8.1f} ms   longest UI stall meanwhile "
          f"{stall_s * 1000:6.1f} ms")
    print(f"filter + repaint    {ours_s * 1000:8.1f} ms   "
          f"naive per-row-disk model {naive_s * 1000:8.1f} ms   ratio {naive_s / ours_s:6.1f}x faster")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
