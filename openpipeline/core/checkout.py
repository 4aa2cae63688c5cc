"""Check-out: an artist takes an item, gives it back, or takes it from somebody.

Each change is recorded in the item's history (``lock``, ``unlock``, ``steal``).
The lock file itself is handled by :class:`openpipeline.core.locks.CheckOut`;
check-outs are advisory: saving over somebody's check-out needs an explicit
override, and renaming or deleting an item is refused while anybody else has it
(or an item below it) checked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openpipeline.core import history
from openpipeline.core.errors import LockHeldError
from openpipeline.core.events import LockData, StealData, UnlockData
from openpipeline.core.identity import current_user
from openpipeline.core.items import Item
from openpipeline.core.locks import LockInfo


@dataclass(frozen=True)
class LockStatus:
    """Who holds an item's check-out, and whether it has gone stale."""

    holder: LockInfo
    stale: bool

    def to_dict(self) -> dict[str, Any]:
        """The lock record with ``stale`` added."""
        return {**self.holder.to_record(), "stale": self.stale}


@dataclass(frozen=True)
class StealResult:
    """The check-out taken, and the one it replaced (None if the item was free)."""

    lock: LockInfo
    taken_from: LockInfo | None

    def to_dict(self) -> dict[str, Any]:
        return {"lock": self.lock.to_record(),
                "taken_from": None if self.taken_from is None else self.taken_from.to_record()}


def acquire(item: Item, *, author: str | None = None, note: str = "") -> LockInfo:
    """Check the item out (or refresh your own check-out).

    Returns:
        The lock now held.
    """
    item.require()
    author = author or current_user()
    was = item.checkout.status()
    info, taken = item.checkout.acquire(author, note)
    if taken is not None:
        history.write_event(item.meta, history.new_event(
            item.ref.address, StealData(taken, info, stale=True), author=author,
            comment=note or "stale lock taken over"))
    elif was is None or was.user != author:
        history.write_event(item.meta, history.new_event(
            item.ref.address, LockData(info), author=author, comment=note))
    return info


def release(item: Item, *, author: str | None = None, note: str = "") -> LockInfo:
    """Give your check-out back.

    Returns:
        The lock that was released.
    """
    item.require()
    author = author or current_user()
    info = item.checkout.release(author)
    history.write_event(item.meta, history.new_event(
        item.ref.address, UnlockData(info), author=author, comment=note))
    return info


def heartbeat(item: Item, *, author: str | None = None) -> LockInfo:
    """Renew your check-out's heartbeat so it does not go stale while you work.

    No history event is written (a heartbeat is not news). A check-out that was
    released or stolen meanwhile is not taken back.

    Raises:
        UserError: the item is no longer checked out.
        LockHeldError: somebody else holds it now.
    """
    item.require()
    return item.checkout.refresh(author or current_user())


def held_by(item: Item, author: str | None = None) -> bool:
    """True if ``author`` (default: you) holds a live check-out of the item."""
    info = item.checkout.status()
    return (info is not None and not info.damaged and info.user == (author or current_user())
            and not item.checkout.is_stale(info))


def steal(item: Item, *, author: str | None = None, note: str = "") -> StealResult:
    """Take the check-out from whoever holds it; the history records from whom."""
    item.require()
    author = author or current_user()
    info, taken = item.checkout.steal(author, note)
    history.write_event(item.meta, history.new_event(
        item.ref.address,
        StealData(taken, info, stale=bool(taken and item.checkout.is_stale(taken))),
        author=author, comment=note))
    return StealResult(info, taken)


def status(item: Item) -> LockStatus | None:
    """The holder of the check-out, with whether it has gone stale (None if nobody)."""
    item.require()
    info = item.checkout.status()
    if info is None:
        return None
    return LockStatus(info, item.checkout.is_stale(info))


def refuse_if_held_below(item: Item, author: str, action: str) -> None:
    """Refuse to ``action`` the item while somebody else has it or an item below it.

    Raises:
        LockHeldError: naming the item that is checked out and by whom.

    Cost: one listing of the subtree and one lock read per item in it.
    """
    for member in item.subtree():
        holder = member.checkout.holder_other_than(author)
        if holder is not None:
            raise LockHeldError(
                f"Cannot {action} '{item.ref}': '{member.ref}' is checked out by "
                f"{holder.describe()}; ask them to release it first."
            )
