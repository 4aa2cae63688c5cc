"""History events as typed records: what each event file holds, parsed in one place.

An event file (see :mod:`openpipeline.core.history`) is one JSON object: an
envelope (who, when, which item) and a ``data`` payload whose fields depend on
the event kind. :class:`HistoryEvent` is the envelope; each kind has its payload
class (:class:`WorkshopData`, :class:`MasterData`, ...). :func:`parse_event` is
the one place where a file's JSON is checked and turned into records;
``to_dict()`` gives back exactly the JSON that is written, so a file read and
written again is the same bytes. An event of a kind this version does not know
(written by a newer one) keeps its payload as it is (:class:`OtherData`).

Example:
    >>> data = {"path": "lib/prop/chair/workshop/chair_workshop_0001.ma", "source": "", "size": 3}
    >>> WorkshopData.from_dict(data).to_dict() == data
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeGuard, TypeVar

from openpipeline.core.errors import MetadataError
from openpipeline.core.locks import LockInfo

SCHEMA = 1


class Malformed(ValueError):
    """A record lacks a field or holds one of the wrong type (raised while parsing)."""


_TYPE_NAMES = {str: "text", int: "whole number", bool: "true or false", float: "number",
               list: "list", dict: "mapping", type(None): "null"}


def require(raw: Mapping[str, Any], spec: Mapping[str, tuple[type, ...]]) -> None:
    """Check that ``raw`` has every key of ``spec``, each of one of its exact types.

    ``bool`` is not taken for ``int``. Cost: one dictionary lookup per key.

    Raises:
        Malformed: naming the first key that is missing or of the wrong type.
    """
    for key, kinds in spec.items():
        try:
            value = raw[key]
        except KeyError:
            raise Malformed(f"'{key}' is missing") from None
        if type(value) not in kinds:
            names = " or ".join(_TYPE_NAMES.get(kind, kind.__name__) for kind in kinds)
            raise Malformed(f"'{key}' must be {names}, not {value!r}")


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be a mapping, not {value!r}")
    return value


def _numbers(raw: Mapping[str, Any], key: str) -> tuple[int, ...]:
    values = raw[key]
    if any(type(value) is not int for value in values):
        raise Malformed(f"'{key}' must list whole numbers, not {values!r}")
    return tuple(values)


def _require_finite(value: object, what: str) -> None:
    """Refuse an Infinity or NaN anywhere inside ``value`` (a parsed JSON value)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Malformed(f"{what} holds the non-finite number {value!r}")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _require_finite(child, what)


TEXT, NUMBER, FLAG, LIST, MAPPING = (str,), (int,), (bool,), (list,), (dict,)
OPTIONAL_NUMBER = (int, type(None))
OPTIONAL_MAPPING = (dict, type(None))


# -- payloads ------------------------------------------------------------------
class EventData:
    """The ``data`` payload of an event; each event kind has its own subclass."""

    KIND: ClassVar[str] = ""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EventData:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class CreatedData(EventData):
    """``created``: the item's kind (``asset``, ``shot_component`` ...) and folder."""

    KIND: ClassVar[str] = "created"
    item_kind: str
    path: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CreatedData:
        require(raw, {"kind": TEXT, "path": TEXT})
        return cls(raw["kind"], raw["path"])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.item_kind, "path": self.path}


@dataclass(frozen=True)
class WorkshopData(EventData):
    """``workshop``: where the new workshop lies, what it was copied from, its size."""

    KIND: ClassVar[str] = "workshop"
    path: str
    source: str
    size: int

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> WorkshopData:
        require(raw, {"path": TEXT, "source": TEXT, "size": NUMBER})
        return cls(raw["path"], raw["source"], raw["size"])

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "source": self.source, "size": self.size}


@dataclass(frozen=True)
class ValidationProblem:
    """One problem a validator found, as recorded in a forced master."""

    validator: str
    message: str
    repairable: bool

    @classmethod
    def from_dict(cls, raw: object) -> ValidationProblem:
        raw = _mapping(raw, "a validator problem")
        require(raw, {"validator": TEXT, "message": TEXT, "repairable": FLAG})
        return cls(raw["validator"], raw["message"], raw["repairable"])

    def to_dict(self) -> dict[str, Any]:
        return {"validator": self.validator, "message": self.message,
                "repairable": self.repairable}


@dataclass(frozen=True)
class MasterData(EventData):
    """``master``: the workshop mastered and the version the old master was kept as.

    ``preserved_version`` is None for the first master. ``forced`` says the
    master went past validator ``problems``; ``repaired`` names the validators
    whose repair ran on the master copy.
    """

    KIND: ClassVar[str] = "master"
    workshop: int
    preserved_version: int | None
    path: str
    size: int
    forced: bool
    problems: tuple[ValidationProblem, ...]
    repaired: tuple[str, ...]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> MasterData:
        require(raw, {"workshop": NUMBER, "preserved_version": OPTIONAL_NUMBER, "path": TEXT,
                      "size": NUMBER, "forced": FLAG, "problems": LIST, "repaired": LIST})
        if any(type(name) is not str for name in raw["repaired"]):
            raise Malformed(f"'repaired' must list validator names, not {raw['repaired']!r}")
        return cls(raw["workshop"], raw["preserved_version"], raw["path"], raw["size"],
                   raw["forced"], tuple(ValidationProblem.from_dict(p) for p in raw["problems"]),
                   tuple(raw["repaired"]))

    def to_dict(self) -> dict[str, Any]:
        return {"workshop": self.workshop, "preserved_version": self.preserved_version,
                "path": self.path, "size": self.size, "forced": self.forced,
                "problems": [problem.to_dict() for problem in self.problems],
                "repaired": list(self.repaired)}


@dataclass(frozen=True)
class MovedData(EventData):
    """What an archive or a retrieve moved: workshop and version numbers."""

    workshops: tuple[int, ...]
    versions: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"workshops": list(self.workshops), "versions": list(self.versions)}


@dataclass(frozen=True)
class ArchiveData(MovedData):
    """``archive``: what moved to the archive, and how many of each were kept."""

    KIND: ClassVar[str] = "archive"
    keep: int

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ArchiveData:
        require(raw, {"workshops": LIST, "versions": LIST, "keep": NUMBER})
        return cls(_numbers(raw, "workshops"), _numbers(raw, "versions"), raw["keep"])

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "keep": self.keep}


@dataclass(frozen=True)
class RetrieveData(MovedData):
    """``retrieve``: what came back from the archive."""

    KIND: ClassVar[str] = "retrieve"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RetrieveData:
        require(raw, {"workshops": LIST, "versions": LIST})
        return cls(_numbers(raw, "workshops"), _numbers(raw, "versions"))


@dataclass(frozen=True)
class DeleteData(EventData):
    """``delete``: where in the ``deleted/`` tree the item went."""

    KIND: ClassVar[str] = "delete"
    deleted_path: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DeleteData:
        require(raw, {"deleted_path": TEXT})
        return cls(raw["deleted_path"])

    def to_dict(self) -> dict[str, Any]:
        return {"deleted_path": self.deleted_path}


@dataclass(frozen=True)
class RestoreData(EventData):
    """``restore``: the deleted folder the item came back from (``"from"`` on disk)."""

    KIND: ClassVar[str] = "restore"
    from_path: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RestoreData:
        require(raw, {"from": TEXT})
        return cls(raw["from"])

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_path}


@dataclass(frozen=True)
class RenameData(EventData):
    """``rename``: the old and new address (``"from"`` and ``"to"`` on disk)."""

    KIND: ClassVar[str] = "rename"
    from_address: str
    to_address: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RenameData:
        require(raw, {"from": TEXT, "to": TEXT})
        return cls(raw["from"], raw["to"])

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_address, "to": self.to_address}


@dataclass(frozen=True)
class DescribeData(EventData):
    """``describe``: no payload; the new description is the event's comment."""

    KIND: ClassVar[str] = "describe"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DescribeData:
        return cls()

    def to_dict(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class PreviewData(EventData):
    """``preview``: where the preview image was stored."""

    KIND: ClassVar[str] = "preview"
    path: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PreviewData:
        require(raw, {"path": TEXT})
        return cls(raw["path"])

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path}


def _lock_info(raw: object, what: str) -> LockInfo:
    try:
        return LockInfo.from_record(_mapping(raw, what))
    except (TypeError, ValueError, MetadataError) as exc:
        raise Malformed(f"{what} is not a lock record ({exc})") from None


@dataclass(frozen=True)
class LockData(EventData):
    """``lock``: the check-out taken (the lock record is the whole payload)."""

    KIND: ClassVar[str] = "lock"
    holder: LockInfo

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LockData:
        return cls(_lock_info(raw, "the lock"))

    def to_dict(self) -> dict[str, Any]:
        return self.holder.to_record()


@dataclass(frozen=True)
class UnlockData(EventData):
    """``unlock``: the check-out given back."""

    KIND: ClassVar[str] = "unlock"
    holder: LockInfo

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> UnlockData:
        return cls(_lock_info(raw, "the lock"))

    def to_dict(self) -> dict[str, Any]:
        return self.holder.to_record()


@dataclass(frozen=True)
class StealData(EventData):
    """``steal``: a check-out taken from its holder, and whether it had gone stale.

    On disk ``"from"`` is the lock taken (None if it was free), ``"to"`` the new one.
    """

    KIND: ClassVar[str] = "steal"
    taken_from: LockInfo | None
    holder: LockInfo
    stale: bool

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StealData:
        require(raw, {"from": OPTIONAL_MAPPING, "to": MAPPING, "stale": FLAG})
        taken = None if raw["from"] is None else _lock_info(raw["from"], "'from'")
        return cls(taken, _lock_info(raw["to"], "'to'"), raw["stale"])

    def to_dict(self) -> dict[str, Any]:
        return {"from": None if self.taken_from is None else self.taken_from.to_record(),
                "to": self.holder.to_record(), "stale": self.stale}


@dataclass(frozen=True)
class FarmResultData(EventData):
    """``farm-result``: a farm job's result saved into the item (a restored texture).

    ``path`` is the new file (or ``<UDIM>`` set) relative to the project, ``source`` the
    input it was made from, ``inputs`` each input file's ``[tile, sha256]``, ``operation``
    and ``params`` what was done, ``key`` the result's cache key.
    """

    KIND: ClassVar[str] = "farm-result"
    path: str
    source: str
    inputs: tuple[tuple[str, str], ...]
    operation: str
    params: Mapping[str, Any]
    key: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FarmResultData:
        require(raw, {"path": TEXT, "source": TEXT, "inputs": LIST, "operation": TEXT, "params": MAPPING,
                      "key": TEXT})
        inputs = []
        for pair in raw["inputs"]:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)):
                raise Malformed(f"'inputs' must list [tile, sha256] pairs, not {pair!r}")
            inputs.append((pair[0], pair[1]))
        _require_finite(raw["params"], "'params'")
        return cls(raw["path"], raw["source"], tuple(inputs), raw["operation"], dict(raw["params"]),
                   raw["key"])

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "source": self.source, "inputs": [list(p) for p in self.inputs],
                "operation": self.operation, "params": dict(self.params), "key": self.key}


@dataclass(frozen=True)
class OtherData(EventData):
    """The payload of an event kind this version does not know, kept as it was.

    Its numbers must be finite (JSON has no Infinity or NaN; output never holds one).
    """

    fields: Mapping[str, Any]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OtherData:
        _require_finite(raw, "the payload")
        return cls(dict(raw))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fields)


PAYLOADS: dict[str, type[EventData]] = {
    cls.KIND: cls
    for cls in (CreatedData, WorkshopData, MasterData, ArchiveData, RetrieveData, DeleteData,
                RestoreData, RenameData, DescribeData, PreviewData, LockData, UnlockData,
                StealData, FarmResultData)
}
EVENTS = tuple(PAYLOADS)

DataT = TypeVar("DataT", bound=EventData, covariant=True)
PayloadT = TypeVar("PayloadT", bound=EventData)


# -- the envelope ----------------------------------------------------------------
_ENVELOPE = {"schema": NUMBER, "id": TEXT, "event": TEXT, "item": TEXT, "time": TEXT,
             "author": TEXT, "host": TEXT, "pid": NUMBER, "version": OPTIONAL_NUMBER,
             "comment": TEXT, "data": MAPPING, "file": TEXT}


@dataclass(frozen=True)
class HistoryEvent(Generic[DataT]):
    """One event of an item's history: who did what to which item, when.

    ``version`` is the workshop number the event is about (None if none);
    ``file`` is the event's own file name, so that a journal can write it again
    after a crash without making a duplicate. ``seq`` is the event's place in
    its item's history, claimed exclusively when the file is written (see
    :func:`openpipeline.core.history.write_event`); it orders the history, not
    the clocks of the hosts that wrote it. Events written before sequences
    existed have none (and no ``"seq"`` key on disk).
    """

    schema: int
    id: str
    event: str
    item: str
    time: str
    author: str
    host: str
    pid: int
    version: int | None
    comment: str
    data: DataT
    file: str
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to the event file (``seq`` only when it has one)."""
        record = {"schema": self.schema, "id": self.id, "event": self.event, "item": self.item,
                  "time": self.time, "author": self.author, "host": self.host, "pid": self.pid,
                  "version": self.version, "comment": self.comment,
                  "data": self.data.to_dict(), "file": self.file}
        if self.seq is not None:
            record["seq"] = self.seq
        return record


def parse_event(raw: object, source: str | Path) -> HistoryEvent[EventData]:
    """Check an event file's parsed JSON and make the typed record.

    Args:
        raw: what ``json.loads`` gave for the file.
        source: the file (or journal) it came from, named in the error.

    Raises:
        MetadataError: a field is missing or of the wrong type, naming ``source``.
    """
    try:
        record = _mapping(raw, "an event")
        require(record, _ENVELOPE)
        kind = record["event"]
        if kind == "workshop" and record["version"] is None:
            raise Malformed("a workshop event must name its version")
        seq = record.get("seq")
        if seq is not None and (type(seq) is not int or seq < 1):
            raise Malformed(f"'seq' must be a whole number of at least 1, not {seq!r}")
        payload = PAYLOADS.get(kind, OtherData).from_dict(record["data"])
    except Malformed as exc:
        raise MetadataError(f"Metadata file '{source}' is damaged ({exc}).") from None
    return HistoryEvent(record["schema"], record["id"], kind, record["item"], record["time"],
                        record["author"], record["host"], record["pid"], record["version"],
                        record["comment"], payload, record["file"], seq)


def is_event_of(event: HistoryEvent[EventData], kind: type[PayloadT]) -> TypeGuard[HistoryEvent[PayloadT]]:
    """True if the event's payload is a ``kind`` (and so the event a ``HistoryEvent[kind]``)."""
    return isinstance(event.data, kind)
