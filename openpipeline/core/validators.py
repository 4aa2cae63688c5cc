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
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeGuard, runtime_checkable

from openpipeline.core.errors import ConfigError
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
    """A ``.ma`` master must start like a Maya ASCII file, a ``.mb`` like Maya binary."""

    name = "maya_file_header"

    def check(self, context: ValidationContext) -> list[str]:
        with open(context.staged, "rb") as handle:
            head = handle.read(16)
        if context.extension == "ma" and not head.startswith(b"//Maya ASCII"):
            return [f"Workshop {context.workshop} is not a Maya ASCII file (no '//Maya ASCII' header)."]
        if context.extension == "mb" and head[:4] not in (b"FOR4", b"FOR8"):
            return [f"Workshop {context.workshop} is not a Maya binary file (no IFF header)."]
        return []


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
