"""Item addresses: which item, as opposed to where its folder lies.

An address is ``asset/<type>[/<asset>[/<component>]]`` or
``shot/<sequence>[/<shot>[/<component>]]``. It names an item whatever folder the
project's templates give it (see :mod:`openpipeline.core.layout`). Assets, shots
and components hold files; asset types and sequences only hold items.

Example:
    >>> ref = ItemRef.parse("asset/prop/chair/model")
    >>> ref.kind, ref.name, str(ref.parent)
    ('asset_component', 'model', 'asset/prop/chair')
"""

from __future__ import annotations

from dataclasses import dataclass

from openpipeline.core.errors import InvalidAddressError
from openpipeline.core.names import validate_name

TABS = ("asset", "shot")
KINDS = {
    "asset": ("asset_type", "asset", "asset_component"),
    "shot": ("sequence", "shot", "shot_component"),
}
LEVEL_LABELS = {
    "asset": ("Asset type", "Asset", "Component"),
    "shot": ("Sequence", "Shot", "Component"),
}


@dataclass(frozen=True, order=True)
class ItemRef:
    """The address of an item: a tab and one to three names."""

    tab: str
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ItemRef:
        """Parse and validate ``asset/<type>/<asset>[/<component>]`` or the shot form."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidAddressError(
                "Item address is empty; use asset/<type>/<asset>[/<component>] or "
                "shot/<sequence>/<shot>[/<component>]."
            )
        pieces = text.strip().strip("/").split("/")
        tab, names = pieces[0], tuple(pieces[1:])
        if tab not in TABS:
            raise InvalidAddressError(
                f"Item address '{text}' must start with 'asset/' or 'shot/'."
            )
        if not 1 <= len(names) <= 3:
            raise InvalidAddressError(
                f"Item address '{text}' must name 1 to 3 levels after '{tab}/', e.g. "
                f"{'asset/prop/chair' if tab == 'asset' else 'shot/sq010/sh010'}."
            )
        for label, name in zip(LEVEL_LABELS[tab], names, strict=False):
            validate_name(name, label)
        return cls(tab, names)

    @classmethod
    def make(cls, tab: str, *names: str) -> ItemRef:
        """Build an address from separate names, validating each one."""
        if tab not in TABS or not 1 <= len(names) <= 3:
            raise InvalidAddressError(f"An item is 'asset' or 'shot' with 1 to 3 names, not {tab!r}.")
        for label, name in zip(LEVEL_LABELS[tab], names, strict=False):
            validate_name(name, label)
        return cls(tab, tuple(names))

    @property
    def kind(self) -> str:
        return KINDS[self.tab][len(self.parts) - 1]

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self.tab][len(self.parts) - 1]

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def address(self) -> str:
        return "/".join((self.tab, *self.parts))

    @property
    def parent(self) -> ItemRef | None:
        return ItemRef(self.tab, self.parts[:-1]) if len(self.parts) > 1 else None

    @property
    def holds_files(self) -> bool:
        return len(self.parts) >= 2

    @property
    def is_component(self) -> bool:
        return len(self.parts) == 3

    def child(self, name: str) -> ItemRef:
        if len(self.parts) >= 3:
            raise InvalidAddressError(f"Item '{self.address}' cannot hold further items.")
        validate_name(name, LEVEL_LABELS[self.tab][len(self.parts)])
        return ItemRef(self.tab, (*self.parts, name))

    def renamed(self, name: str) -> ItemRef:
        validate_name(name, self.label)
        return ItemRef(self.tab, (*self.parts[:-1], name))

    def contains(self, other: ItemRef) -> bool:
        """True if ``other`` is this item or lies below it."""
        return other.tab == self.tab and other.parts[: len(self.parts)] == self.parts

    def __str__(self) -> str:
        return self.address
