"""Keeping a check-out alive while its item's scene is open in the DCC.

A check-out goes stale when its heartbeat is older than the project's
``lock_ttl_seconds``. While the artist works in the scene of an item they checked
out, a host timer renews the heartbeat; when the scene is closed (a new scene,
another file opened, the DCC quits) the timer stops and, if this session took the
check-out, it is checked in. One keep-alive runs per DCC session.

OpenPipeline's own scene changes that stay on the item (mastering reopens the
workshop, *Open* of another version of the same item) run inside :func:`reopening`,
so they do not count as closing the item's scene.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from openpipeline.core import checkout
from openpipeline.core.errors import UserError
from openpipeline.core.identity import current_user
from openpipeline.core.items import Item
from openpipeline.host import Host

MIN_INTERVAL, MAX_INTERVAL = 30.0, 600.0


def interval_for(ttl_seconds: float) -> float:
    """Seconds between heartbeats: a quarter of the TTL, kept between 30 s and 10 min."""
    return max(MIN_INTERVAL, min(MAX_INTERVAL, ttl_seconds / 4))


class KeepAlive:
    """Renews one item's check-out while its scene is open; checks it in on close if ``took``."""

    def __init__(self, item: Item, host: Host, *, took: bool, author: str | None = None) -> None:
        self.item = item
        self.host = host
        self.took = took
        self.author = author or current_user()
        self.active = False

    def start(self) -> None:
        """Start the heartbeat timer and watch for the scene closing."""
        self.active = True
        self.host.start_heartbeat(interval_for(self.item.project.config.lock_ttl_seconds), self.beat)
        self.host.on_scene_closed(self.scene_closed)

    def beat(self) -> None:
        """Renew the heartbeat; stop (with a warning) if the check-out was released or stolen."""
        if not self.active:
            return
        try:
            checkout.heartbeat(self.item, author=self.author)
        except UserError as exc:
            self.stop()
            self.host.warn(f"Stopped keeping {self.item.ref} checked out: {exc}")

    def scene_closed(self) -> None:
        """The scene is going: check the item in if we took it, unless OpenPipeline is reopening it."""
        if not self.active:
            return
        if _REOPENING:
            self.host.on_scene_closed(self.scene_closed)  # still on the item: watch the next scene
            return
        self.stop()
        if self.took:
            try:
                checkout.release(self.item, author=self.author, note="scene closed")
            except UserError as exc:
                self.host.warn(f"Could not check {self.item.ref} in as its scene closed: {exc}")

    def stop(self) -> None:
        """Stop renewing; the check-out stays as it is."""
        if self.active:
            self.active = False
            self.host.stop_heartbeat()
            global _CURRENT
            if _CURRENT is self:
                _CURRENT = None


_CURRENT: KeepAlive | None = None
_REOPENING = False


def keep_alive(item: Item, host: Host, *, took: bool, author: str | None = None) -> KeepAlive:
    """Keep ``item``'s check-out alive from now on, replacing the session's previous keep-alive.

    The previous one stops without checking anything in (its scene is the one
    still open).
    """
    global _CURRENT
    if _CURRENT is not None:
        _CURRENT.stop()
    _CURRENT = KeepAlive(item, host, took=took, author=author)
    _CURRENT.start()
    return _CURRENT


def current() -> KeepAlive | None:
    """The session's running keep-alive, if any."""
    return _CURRENT


def stop_for(item: Item) -> bool:
    """Stop the keep-alive of ``item`` (the artist checked it in by hand); True if one ran."""
    if _CURRENT is not None and _CURRENT.item.ref == item.ref:
        _CURRENT.stop()
        return True
    return False


@contextmanager
def reopening() -> Iterator[None]:
    """OpenPipeline replaces the scene but stays on the same item: keep the check-out."""
    global _REOPENING
    was, _REOPENING = _REOPENING, True
    try:
        yield
    finally:
        _REOPENING = was
