"""Validators: checks that run before a workshop is mastered.

A validator is any object with a ``name`` and a ``check(context)`` method that
returns a list of problem sentences (empty when all is well). It may also have
``repair(context)``, which fixes the staged copy in place; ``master --repair``
runs the repairs, then checks again.

Validators come from three places: the built-ins below, :func:`register` (for
code that runs in the same process, e.g. a studio's Maya start-up script), and
the project config's ``validators`` list of ``module:callable`` entries, each
callable returning a validator.

Example:
    >>> class NoTodo:
    ...     name = "no_todo"
    ...     def check(self, context):
    ...         text = context.staged.read_bytes()
    ...         return ["The scene still says TODO."] if b"TODO" in text else []
    >>> register(NoTodo())
    >>> unregister("no_todo")
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TypeGuard, runtime_checkable

from openpipeline.core.config import ProjectConfig
from openpipeline.core.errors import ConfigError, SourceFileError, warn_once
from openpipeline.core.events import ValidationProblem
from openpipeline.core.items import Item


@dataclass(frozen=True)
class ValidationContext:
    """What a validator looks at: the item, the workshop and its staged copy."""

    item: Item
    workshop: int
    staged: Path
    extension: str


@runtime_checkable
class Validator(Protocol):
    """What every validator has: a name and a check returning problem sentences."""

    name: str

    def check(self, context: ValidationContext) -> list[str]: ...


class RepairingValidator(Validator, Protocol):
    """A validator that can also fix the staged copy in place."""

    def repair(self, context: ValidationContext) -> None: ...


def can_repair(validator: Validator) -> TypeGuard[RepairingValidator]:
    """True if the validator has a callable ``repair``."""
    return callable(getattr(validator, "repair", None))


class NonEmptyFile:
    """A master must not be an empty file."""

    name = "non_empty_file"

    def check(self, context: ValidationContext) -> list[str]:
        if context.staged.stat().st_size == 0:
            return [f"Workshop {context.workshop} is an empty file."]
        return []


class MayaFileHeader:
    """A master must be a whole Maya scene of the project's format (see :func:`scene_problem`)."""

    name = "maya_file_header"

    def check(self, context: ValidationContext) -> list[str]:
        problem = scene_problem(context.staged, context.extension)
        return [] if problem is None else [f"Workshop {context.workshop} {problem}."]


FORMAT_LABELS = {"ma": "Maya ASCII", "mb": "Maya binary"}
_BLOCK = 1 << 16


def scene_problem(path: Path, expected_format: str) -> str | None:
    """Why ``path`` is not a whole Maya scene of ``expected_format`` (None if it is).

    ``ma``: the ``//Maya ASCII`` header, and a last statement that ends with ``;``
    (the last line that is neither blank nor a ``//`` comment), so a file cut
    short mid-statement fails. ``mb``: the top-level IFF chunks (``FOR4`` or
    ``FOR8`` forms, big-endian sizes, the first a ``Maya`` form) tile the file
    exactly. Any other format is not checked. The text completes a sentence
    whose subject is the file: ``is not a Maya ASCII file (...)``.

    Cost: the first bytes and the last statement (``ma``), one small read per
    top-level chunk (``mb``).
    """
    label = FORMAT_LABELS.get(expected_format)
    if label is None:
        return None
    with open(path, "rb") as handle:
        if expected_format == "ma":
            why = _ascii_problem(handle)
        else:
            why = _binary_problem(handle, os.fstat(handle.fileno()).st_size)
    return None if why is None else f"is not a {why}"


def _ascii_problem(handle: BinaryIO) -> str | None:
    if not handle.read(12).startswith(b"//Maya ASCII"):
        return "Maya ASCII file (no '//Maya ASCII' header)"
    last = _last_statement_line(handle)
    if last is None:
        return "complete Maya ASCII file (it holds no statement; it may be cut short)"
    if not last.endswith(b";"):
        return ("complete Maya ASCII file (its last statement does not end with ';'; "
                "it may be cut short)")
    return None


def _last_statement_line(handle: BinaryIO) -> bytes | None:
    """The last line that is neither blank nor a ``//`` comment, read from the end."""
    position = handle.seek(0, os.SEEK_END)
    carry = b""
    while position > 0:
        step = min(_BLOCK, position)
        position -= step
        handle.seek(position)
        lines = (handle.read(step) + carry).split(b"\n")
        carry = lines.pop(0) if position > 0 else b""
        for line in reversed(lines):
            text = line.strip()
            if text and not text.startswith(b"//"):
                return text
    return None


_FORMS = {b"FOR4": (8, 4), b"FOR8": (16, 8)}  # tag: (header size, alignment)


def _binary_problem(handle: BinaryIO, size: int) -> str | None:
    """Walk the top-level IFF chunks; they must tile the file exactly."""
    offset = 0
    while offset < size:
        handle.seek(offset)
        head = handle.read(20)
        form = _FORMS.get(head[:4])
        if form is None:
            where = "" if offset == 0 else f" at byte {offset}"
            return f"Maya binary file (no IFF form header{where})"
        header, alignment = form
        if len(head) < header + 4:
            return f"complete Maya binary file (its chunk at byte {offset} is cut short)"
        length = int.from_bytes(head[header // 2:header], "big")
        if offset == 0 and head[header:header + 4] != b"Maya":
            return "Maya binary file (its first form is not a 'Maya' form)"
        end = offset + header + length
        if end > size:
            return (f"complete Maya binary file (its chunk at byte {offset} needs "
                    f"{end - size} more bytes; it may be cut short)")
        offset = end if end == size else end + (-end % alignment)
    if offset != size:
        return "complete Maya binary file (its chunks do not add up to its size)"
    return None


def check_scene_file(path: Path, expected_format: str) -> list[str]:
    """Problems that keep ``path`` from being saved as a workshop of ``expected_format``.

    Returns:
        One sentence per problem (none if the file is a whole scene of that
        format, or the format is not a Maya one).

    Example:
        >>> import tempfile, pathlib
        >>> png = pathlib.Path(tempfile.mkdtemp()) / "shot.png"
        >>> _ = png.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")
        >>> check_scene_file(png, "ma")[0].endswith("give a whole Maya ASCII (.ma) scene, "
        ...                                          "the format of this project's workshops.")
        True
    """
    problem = scene_problem(path, expected_format)
    if problem is None:
        return []
    return [f"File '{path}' {problem}; give a whole {FORMAT_LABELS[expected_format]} "
            f"(.{expected_format}) scene, the format of this project's workshops."]


def refuse_foreign_scene(path: Path, config: ProjectConfig) -> None:
    """Refuse to save ``path`` as a workshop unless it is a whole scene of the project's format.

    The project's ``save_scene_check`` setting set to ``warn`` turns the refusal into
    a warning.

    Raises:
        SourceFileError: the file is not a scene of the project's workshop format.
    """
    problems = check_scene_file(path, config.workshop_format)
    if not problems:
        return
    if config.save_scene_check == "warn":
        warn_once(f"save:{path}", problems[0])
        return
    raise SourceFileError(problems[0])


_REGISTERED: dict[str, Validator] = {}
BUILT_IN: tuple[Validator, ...] = (NonEmptyFile(), MayaFileHeader())


def register(validator: Validator) -> None:
    """Add a validator for this process (replaces one of the same name)."""
    if not isinstance(validator, Validator):
        raise TypeError("a validator needs a 'name' and a 'check(context)' method")
    _REGISTERED[validator.name] = validator


def unregister(name: str) -> None:
    """Remove a validator added with :func:`register`."""
    _REGISTERED.pop(name, None)


def load(spec: str) -> Validator:
    """Import ``module:callable`` and call it to get a validator."""
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"Validator '{spec}' in the project config cannot be loaded ({exc}); fix the "
            "'validators' list or the studio's Python path."
        ) from exc
    validator = factory()
    if not isinstance(validator, Validator):
        raise ConfigError(f"Validator '{spec}' did not return an object with name and check().")
    return validator


def active(specs: tuple[str, ...]) -> list[Validator]:
    """Built-ins, then registered, then the config's validators."""
    return [*BUILT_IN, *_REGISTERED.values(), *(load(spec) for spec in specs)]


def run(
    validators: list[Validator], context: ValidationContext, repair: bool
) -> tuple[list[ValidationProblem], list[str]]:
    """Run validators; with ``repair``, first run the repair of each that complains.

    Returns:
        The problems left (validator, message, repairable), and the names of the
        validators whose repair ran.
    """
    repaired: list[str] = []
    if repair:
        for validator in validators:
            if can_repair(validator) and validator.check(context):
                validator.repair(context)
                repaired.append(validator.name)
    problems = [
        ValidationProblem(validator.name, message, can_repair(validator))
        for validator in validators
        for message in validator.check(context)
    ]
    return problems, repaired
