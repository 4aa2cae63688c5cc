"""Workshops and masters: the heart of the workflow, and where work is never lost.

**Saving a workshop** claims the next number by exclusive creation (skipping a
number whose file already lies there or that the history knows), copies the file
to a hidden temporary name beside its final place, then journals and runs two
steps: rename into place without replacing anything, record the event. Two
writers never get the same number; a crash leaves either no new workshop or a
complete one; no existing file is ever overwritten.

Saving and mastering hold the item's mutex (see :attr:`Item.mutex`), as do
archive, retrieve, delete, restore and rename, so a save never lands in a folder
that a rename or a delete is moving away. A file-system failure (full disk,
permissions, a link leading out of the project) is a one-sentence
:class:`StorageError` and leaves the item as it was.

**Mastering** stages a copy of the workshop beside the master, runs the
validators on it, copies the current master to a temporary name in ``version/``
under a newly claimed number, then journals and runs: place the preserved
version, replace the master (one atomic rename, so the master path always holds
a complete file), record the event. A failure before the journal leaves
everything as it was; a crash after it is rolled forward by the next process.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openpipeline.atomic import publish_problem
from openpipeline.core import fsutil, history, journal, validators
from openpipeline.core.claims import claim_number
from openpipeline.core.errors import (
    LockHeldError,
    SourceFileError,
    StorageError,
    ValidationFailedError,
)
from openpipeline.core.events import HistoryEvent, MasterData, ValidationProblem, WorkshopData
from openpipeline.core.identity import current_user
from openpipeline.core.items import Item, ItemState, VersionEntry, holding
from openpipeline.core.journal import EventStep, MoveStep, ReplaceStep, Step


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn a file-system failure inside the block into a one-sentence :class:`StorageError`."""
    try:
        yield
    except OSError as exc:
        raise fsutil.storage_error(exc, action) from exc


def _writable(item: Item, path: Path) -> None:
    """Refuse before anything changes: ``path`` leaves the project, is a folder, or cannot be written."""
    project = item.project
    project.confine(path)
    if path.is_dir():
        raise StorageError(f"A folder lies at '{project.relative(path)}', where {item.ref}'s file "
                           "must go; move it away and try again.")
    path.parent.mkdir(parents=True, exist_ok=True)
    problem = publish_problem(path)
    if problem is not None:
        raise StorageError(problem)


def _free_number(item: Item, kind: str, state: ItemState) -> int:
    """Claim the next number of ``kind`` whose file lies nowhere and that no event knows."""
    known = state.workshops if kind == "workshop" else state.versions
    path_of = item.workshop_path if kind == "workshop" else item.version_path

    def in_use(number: int) -> bool:
        path = path_of(number)
        return (number in known or path.exists() or path.is_symlink()
                or item.archived(path).exists())

    return claim_number(item.claims_dir(kind), in_use)


def _check_lock(item: Item, author: str, ignore_lock: bool, action: str) -> None:
    holder = item.checkout.holder_other_than(author)
    if holder is not None and not ignore_lock:
        raise LockHeldError(
            f"Cannot {action} '{item.ref}': it is checked out by {holder.describe()}; "
            "ask them to release it, or pass --ignore-lock."
        )


def _check_source(source: Path) -> None:
    if not source.exists():
        raise SourceFileError(f"File '{source}' does not exist; check the path.")
    if not source.is_file():
        raise SourceFileError(f"'{source}' is not a file; give the scene file to save.")
    if not os.access(source, os.R_OK):
        raise SourceFileError(f"File '{source}' cannot be read; check its permissions.")


def save_workshop(
    item: Item,
    source: Path | None = None,
    *,
    note: str = "",
    author: str | None = None,
    ignore_lock: bool = False,
    writer: Callable[[Path], None] | None = None,
) -> HistoryEvent[WorkshopData]:
    """Save a file as the item's next workshop.

    Args:
        item: an asset, shot or component.
        source: the file to copy in; or None with ``writer``.
        writer: instead of ``source``, a function that writes the file at the path
            it is given (a host saving its scene straight into place).
        ignore_lock: save even though somebody else has the item checked out.

    Returns:
        The ``workshop`` event record (its ``version`` is the new number).

    Cost: one copy of the file, three small metadata writes, two fsyncs of
    metadata: a few milliseconds beyond the copy (see bench/core_bench.py).
    """
    item.require_files()
    author = author or current_user()
    _check_lock(item, author, ignore_lock, "save a workshop of")
    if writer is None:
        if source is None:
            raise SourceFileError("No file was given to save as a workshop; give the scene file's path.")
        source = Path(source)
        _check_source(source)
        validators.refuse_foreign_scene(source, item.project.config)
    with storage_errors(f"save a workshop of '{item.ref}'"), holding([item]):
        item.require_files()  # a rename or a delete may have moved it meanwhile
        _writable(item, item.workshop_path(1))
        number = _free_number(item, "workshop", item.state())
        with _claim_released_on_failure(item.claims_dir("workshop") / str(number),
                                        item.workshop_path(number)):
            return _publish_workshop(item, number, source, writer, author, note)


@contextmanager
def _claim_released_on_failure(claim: Path, published: Path) -> Iterator[None]:
    """Give a claimed number back when the save failed and nothing was published under it.

    Where the failure could not be undone (its journal record is set aside), or an
    interrupt came after the file was published, the claim stays: a number whose file
    exists is never handed out again.
    """
    try:
        yield
    except journal.NotUndoneError:
        raise
    except BaseException:
        if not published.exists():
            fsutil.unlink_quietly(claim)
        raise


def _publish_workshop(
    item: Item, number: int, source: Path | None, writer: Callable[[Path], None] | None,
    author: str, note: str,
) -> HistoryEvent[WorkshopData]:
    """Stage the new workshop under its claimed number, then journal: move into place, record."""
    fsutil.checkpoint("workshop.claimed")
    final = item.workshop_path(number)
    staged = _stage_workshop(final, source, writer)
    if writer is not None:
        try:
            validators.refuse_foreign_scene(staged, item.project.config)
        except SourceFileError:
            fsutil.unlink_quietly(staged)
            raise
    project = item.project
    try:
        fsutil.checkpoint("workshop.staged")
        record = history.new_event(
            item.ref.address,
            WorkshopData(path=project.relative(final),
                         source=str(source) if source is not None else "",
                         size=staged.stat().st_size),
            author=author, version=number, comment=note,
        )
        journal.run(project.root, project.meta, "workshop", [
            MoveStep(project.relative(staged), project.relative(final)),
            EventStep(project.relative(item.meta), record),
        ])
    except journal.NotUndoneError:
        raise  # the set-aside record names the staged file: keep it
    except BaseException:
        fsutil.unlink_quietly(staged)
        raise
    return record


def _stage_workshop(
    final: Path, source: Path | None, writer: Callable[[Path], None] | None
) -> Path:
    """Put the new workshop's content at a hidden temporary name beside ``final``."""
    if writer is None:
        assert source is not None
        return fsutil.copy_to_temp(source, final)
    staged = fsutil.temp_path_for(final)
    try:
        writer(staged)
    except BaseException:
        fsutil.unlink_quietly(staged)
        raise
    if not staged.is_file():
        if staged.is_dir() and not staged.is_symlink():
            shutil.rmtree(staged, ignore_errors=True)
        else:
            fsutil.unlink_quietly(staged)
        raise SourceFileError(f"The host did not write the workshop file '{staged.name}'.")
    return staged


def master(
    item: Item,
    workshop: int | None = None,
    *,
    note: str = "",
    author: str | None = None,
    force: bool = False,
    repair: bool = False,
    ignore_lock: bool = False,
    writer: Callable[[Path], None] | None = None,
) -> HistoryEvent[MasterData]:
    """Promote a workshop (the latest by default) to the item's master path.

    With ``writer``, the master's content is not a copy of the workshop file but
    what ``writer`` writes at the path it is given (a hidden temporary name beside
    the master): a host saving the workshop's scene after the master options
    repaired it. The event still names the workshop it came from.

    The previous master is first preserved in ``version/`` under the next
    version number. Validators run on a staged copy; problems block the master
    unless ``force`` (recorded in the event) or ``repair`` fixes them.

    Returns:
        The ``master`` event record.

    Raises:
        ValidationFailedError: validators found problems and ``force`` is off.
        LockHeldError: somebody else has the item checked out.
    """
    item.require_files()
    author = author or current_user()
    _check_lock(item, author, ignore_lock, "master")
    with storage_errors(f"master '{item.ref}'"), holding([item]):
        fsutil.checkpoint("master.locked")
        item.require_files()  # a rename or a delete may have moved it meanwhile
        project = item.project
        journal.recover(project.root, project.meta)  # finish what a crash interrupted
        state = item.state()
        entry = _workshop_file(item, workshop, state)
        master_path = item.master_path
        for output in (master_path, item.version_path(1)):
            _writable(item, output)
        staged = _stage_workshop(master_path, entry.path if writer is None else None, writer)
        preserved: _Preserved | None = None
        try:
            fsutil.checkpoint("master.staged")
            validation = _validate(item, entry.number, staged, force=force, repair=repair)
            preserved = _stage_old_master(item, state)
            if preserved is not None:
                fsutil.checkpoint("master.preserved")
            record = _master_event(item, entry.number, staged, preserved, validation, author, note)
            steps: list[Step] = [] if preserved is None else [preserved.step(item)]
            steps += [ReplaceStep(project.relative(staged), project.relative(master_path)),
                      EventStep(project.relative(item.meta), record)]
            journal.run(project.root, project.meta, "master", steps)
        except journal.NotUndoneError:
            raise  # the set-aside record names the staged files: keep them
        except BaseException:
            fsutil.unlink_quietly(staged)
            if preserved is not None:
                fsutil.unlink_quietly(preserved.staged)
                if not item.version_path(preserved.number).exists():  # not published after all
                    fsutil.unlink_quietly(item.claims_dir("version") / str(preserved.number))
            raise
    return record


def _master_event(
    item: Item, workshop: int, staged: Path, preserved: _Preserved | None,
    validation: tuple[list[ValidationProblem], list[str]], author: str, note: str,
) -> HistoryEvent[MasterData]:
    """The ``master`` event (not yet written): what was mastered, kept, forced and repaired."""
    problems, repaired = validation
    return history.new_event(
        item.ref.address,
        MasterData(workshop=workshop, preserved_version=preserved.number if preserved else None,
                   path=item.project.relative(item.master_path), size=staged.stat().st_size,
                   forced=bool(problems), problems=tuple(problems), repaired=tuple(repaired)),
        author=author, version=workshop, comment=note,
    )


def _workshop_file(item: Item, workshop: int | None, state: ItemState) -> VersionEntry:
    """The workshop to master, checked to be on disk."""
    entry = item.workshop(workshop, state)
    if not entry.path.is_file():
        raise SourceFileError(
            f"Workshop {entry.number} of '{item.ref}' is recorded but its file "
            f"'{item.project.relative(entry.path)}' is missing."
        )
    return entry


def _validate(
    item: Item, workshop: int, staged: Path, *, force: bool, repair: bool
) -> tuple[list[ValidationProblem], list[str]]:
    """Run the project's validators on the staged master copy.

    Returns:
        The problems left and the names of the validators whose repair ran.

    Raises:
        ValidationFailedError: problems are left and ``force`` is off.
    """
    config = item.project.config
    context = validators.ValidationContext(
        item=item, workshop=workshop, staged=staged, extension=config.master_format,
    )
    problems, repaired = validators.run(validators.active(config.validators), context, repair)
    if problems and not force:
        can_repair = not repair and any(problem.repairable for problem in problems)
        raise ValidationFailedError(
            f"Master of '{item.ref}' blocked: {len(problems)} validator problem(s), "
            f"first: {problems[0].message} Fix the workshop, "
            f"{'pass --repair, ' if can_repair else ''}or --force to master anyway (recorded).",
            [problem.to_dict() for problem in problems],
        )
    return problems, repaired


@dataclass(frozen=True)
class _Preserved:
    """The current master, copied to a hidden temporary name beside its version path."""

    number: int
    staged: Path
    path: Path

    def step(self, item: Item) -> ReplaceStep:
        project = item.project
        return ReplaceStep(project.relative(self.staged), project.relative(self.path))


def _stage_old_master(item: Item, state: ItemState) -> _Preserved | None:
    """Claim the next free version number and copy the master beside it (None: no master yet)."""
    master_path = item.master_path
    if not master_path.exists():
        return None
    number = _free_number(item, "version", state)
    version_path = item.version_path(number)
    with _claim_released_on_failure(item.claims_dir("version") / str(number), version_path):
        version_path.parent.mkdir(parents=True, exist_ok=True)
        return _Preserved(number, fsutil.copy_to_temp(master_path, version_path), version_path)
