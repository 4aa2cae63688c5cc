"""``openpipeline cache ...``: where finished texture and scatter results are kept, and tidying it.

The cache lies in ``$OPENPIPELINE_CACHE`` if set, else in the selected project's
``.openpipeline/cache`` folder (so everyone on the project shares results), else in the
user's cache folder. ``texture`` and ``scatter`` use it unless given ``--no-cache``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from openpipeline.cli.common import Commands, emit
from openpipeline.core.selection import selected_project_cache
from openpipeline.engine.cache import ResultCache, cache_root, parse_size


def project_cache(args: argparse.Namespace) -> Path | None:
    """The selected project's cache folder (``--project``, ``$OPENPIPELINE_PROJECT`` or the
    active project), or None when no project is selected (see
    :func:`~openpipeline.core.selection.selected_project_cache`)."""
    return selected_project_cache(getattr(args, "project", None))


def result_cache(args: argparse.Namespace) -> ResultCache | None:
    """The cache a command uses: None under ``--no-cache``, else the one at
    :func:`~openpipeline.engine.cache.cache_root`."""
    if getattr(args, "no_cache", False):
        return None
    return ResultCache(cache_root(project_cache(args)))


def add_cache_option(sub: argparse.ArgumentParser) -> None:
    """Give a compute command ``--no-cache``."""
    sub.add_argument("--no-cache", action="store_true",
                     help="compute even if the result is cached, and keep nothing (see 'openpipeline cache')")


def register(cli: Commands) -> None:
    """Add the ``cache`` commands."""
    cache = cli.group("cache", "the result cache of texture and scatter jobs: show, prune, clear")
    cli.leaf(cache, "show", cmd_show, "where the cache lies, its entries and their size")
    p = cli.leaf(cache, "prune", cmd_prune,
                 "remove least recently used results down to a size (and damaged ones)")
    p.add_argument("--max-size", type=_size,
                   help="e.g. 10G (default: the cache's own cap, else $OPENPIPELINE_CACHE_SIZE, else 20G)")
    cli.leaf(cache, "clear", cmd_clear, "remove every cached result")
    p = cli.leaf(cache, "limit", cmd_limit,
                 "the cache's own size cap, kept in the cache for everyone who uses it (cache.json)")
    p.add_argument("size", nargs="?", type=_size, help="e.g. 200G; left out: show the cap")
    p.add_argument("--unset", action="store_true", help="remove the cache's own cap")


def _size(text: str) -> int:
    return parse_size(text)


def _human(size: int) -> str:
    """``1.5 GB``-style text for a byte count (binary units)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _state(cache: ResultCache) -> dict[str, Any]:
    entries = cache.entries()
    kinds: dict[str, int] = {}
    for entry in entries:
        kinds[entry.kind] = kinds.get(entry.kind, 0) + 1
    return {"root": str(cache.root.absolute()), "entries": len(entries),
            "bytes": cache.total_bytes(), "inputs": len(cache.inputs()), "max_bytes": cache.max_bytes,
            "kinds": kinds}


def _cache(args: argparse.Namespace) -> ResultCache:
    return ResultCache(cache_root(project_cache(args)))


def cmd_show(args: argparse.Namespace) -> None:
    data = _state(_cache(args))
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(data["kinds"].items()))
    emit(args, data, f"Cache {data['root']}: {data['entries']} result(s){f' ({kinds})' if kinds else ''}, "
                     f"{_human(data['bytes'])} of {_human(data['max_bytes'])}.")


def cmd_prune(args: argparse.Namespace) -> None:
    cache = _cache(args)
    removed = cache.prune(args.max_size)
    data = {**_state(cache), "removed": len(removed), "freed": sum(entry.size for entry in removed)}
    emit(args, data, f"Removed {data['removed']} result(s) ({_human(data['freed'])}); "
                     f"{data['entries']} left, {_human(data['bytes'])} in {data['root']}.")


def cmd_clear(args: argparse.Namespace) -> None:
    cache = _cache(args)
    removed = cache.clear()
    emit(args, {"root": str(cache.root.absolute()), "removed": removed},
         f"Removed {removed} result(s) from {cache.root.absolute()}.")


def cmd_limit(args: argparse.Namespace) -> None:
    cache = _cache(args)
    if args.unset or args.size is not None:
        cache.set_limit(None if args.unset else args.size)
    stored = cache.stored_limit()
    data = {"root": str(cache.root.absolute()), "limit": stored, "max_bytes": cache.max_bytes}
    where = f"{_human(stored)} (the cache's own cap)" if stored is not None else \
        f"{_human(cache.max_bytes)} (no cap of its own: $OPENPIPELINE_CACHE_SIZE or 20G)"
    emit(args, data, f"Cache {data['root']} is capped at {where}.")
