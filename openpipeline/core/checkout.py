"""Check-out: an artist takes an item, gives it back, or takes it from somebody.

Each change is recorded in the item's history (``lock``, ``unlock``, ``steal``).
The lock file itself is handled by :class:`openpipeline.core.locks.CheckOut`;
check-outs are advisory: saving over somebody's check-out needs an explicit
override, and renaming or deleting an item is refused while anybody else has it
(or an item below it) checked out.
"""

from __future__ import annotations

from typing import Any

from openpipeline.core import history
from openpipeline.core.errors import LockHeldError
from openpipeline.core.identity import current_user
from openpipeline.core.items import Item


def acquire(item: Item, *, author: str | None = None, note: str = "") -> dict[str, Any]:
    """Check the item out (or refresh your own check-out)."""
    item.require()
    author = author or current_user()
    was = item.checkout.status()
    info, taken = item.checkout.acquire(author, note)
    if taken is not None:
        history.write_event(item.meta, history.new_event(
            "steal", item.ref.address, author=author, comment=note or "stale lock taken over",
            data={"from": taken.to_record(), "to": info.to_record(), "stale": True}))
    elif was is None or was.user != author:
        history.write_event(item.meta, history.new_event(
            "lock", item.ref.address, author=author, comment=note, data=info.to_record()))
    return info.to_record()


def release(item: Item, *, author: str | None = None, note: str = "") -> dict[str, Any]:
    """Give your check-out back."""
    item.require()
    author = author or current_user()
    info = item.checkout.release(author)
    history.write_event(item.meta, history.new_event(
        "unlock", item.ref.address, author=author, comment=note, data=info.to_record()))
    return info.to_record()


def steal(item: Item, *, author: str | None = None, note: str = "") -> dict[str, Any]:
    """Take the check-out from whoever holds it; the history records from whom."""
    item.require()
    author = author or current_user()
    info, taken = item.checkout.steal(author, note)
    history.write_event(item.meta, history.new_event(
        "steal", item.ref.address, author=author, comment=note,
        data={"from": taken.to_record() if taken else None, "to": info.to_record(),
              "stale": bool(taken and item.checkout.is_stale(taken))}))
    return {"lock": info.to_record(), "taken_from": taken.to_record() if taken else None}


def status(item: Item) -> dict[str, Any] | None:
    """The holder of the check-out, with whether it has gone stale."""
    item.require()
    info = item.checkout.status()
    if info is None:
        return None
    return {**info.to_record(), "stale": item.checkout.is_stale(info)}


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
