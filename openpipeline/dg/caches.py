"""The result cache a node uses now: the root is resolved again (the artist may switch
project), at most every few seconds, and one :class:`ResultCache` is kept per root."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from openpipeline.engine.cache import ResultCache

__all__ = ["CacheByRoot"]

RESOLVE_EVERY = 2.0  # seconds between two resolutions of the root


class CacheByRoot:
    """Callable: the cache at ``resolve()``'s root, resolved again after ``every`` seconds.

    Example:
        >>> import tempfile
        >>> roots = [Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())]
        >>> caches = CacheByRoot(lambda: roots[0], every=0)
        >>> first = caches()
        >>> roots.reverse()
        >>> caches().root == roots[0] and caches() is not first
        True
    """

    def __init__(self, resolve: Callable[[], Path], every: float = RESOLVE_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._resolve, self._every, self._clock = resolve, every, clock
        self._by_root: dict[Path, ResultCache] = {}
        self._current: ResultCache | None = None
        self._resolved_at = 0.0

    def __call__(self) -> ResultCache:
        now = self._clock()
        if self._current is None or now - self._resolved_at >= self._every:
            root = Path(self._resolve())
            if root not in self._by_root:
                self._by_root[root] = ResultCache(root)
            self._current, self._resolved_at = self._by_root[root], now
        return self._current
