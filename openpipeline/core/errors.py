"""Exception types of the pipeline core, and the warning about damaged metadata.

A :class:`UserError` is something the user can fix (a bad name, a missing item, a
held lock); its message is one sentence that says what was wrong and what to do.
The CLI turns it into exit code 2, the UI into a dialog. Any other
:class:`OpenPipelineError` is an internal fault (exit code 1). A metadata file
that does not read (a history event, a lock, a description) is not an error of
the command that meets it: the reader skips it and calls :func:`warn_once`.
"""

from __future__ import annotations

import logging

LOG = logging.getLogger("openpipeline")
_WARNED: set[tuple[str, str]] = set()


def warn_once(key: str, message: str) -> None:
    """Warn about damaged metadata on one line, once per process for one ``key`` and message.

    ``key`` names what is damaged (a file). The warning goes to the ``openpipeline``
    logger; with no logging set up (the command line) Python prints it on stderr,
    in Maya it reaches the Script Editor.
    """
    line = " ".join(message.split())
    if (key, line) in _WARNED:
        return
    _WARNED.add((key, line))
    LOG.warning("openpipeline: warning: %s", line)


class OpenPipelineError(Exception):
    """Base of every error raised by OpenPipeline."""


class MetadataError(OpenPipelineError):
    """A metadata file written by OpenPipeline does not parse or lacks what it must hold."""


class UserError(OpenPipelineError):
    """An error caused by the input; nothing was changed on disk."""


class InvalidNameError(UserError):
    """A name that would become part of a path is not allowed."""


class InvalidAddressError(UserError):
    """An item address does not have the form ``asset/<type>/<asset>[/<component>]``."""


class ConfigError(UserError):
    """A project config or the project registry cannot be read or is not valid."""


class ProjectNotFoundError(UserError):
    """No project is selected, or the selected one does not exist."""


class ItemNotFoundError(UserError):
    """The addressed item does not exist."""


class ItemExistsError(UserError):
    """An item of that name already exists."""


class VersionNotFoundError(UserError):
    """The requested workshop or version does not exist."""


class SourceFileError(UserError):
    """A file given as input does not exist or cannot be read."""


class LockHeldError(UserError):
    """The item is checked out by somebody else."""


class ValidationFailedError(UserError):
    """Validators found problems that block mastering."""

    def __init__(self, message: str, report: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.report = report


class BusyError(UserError):
    """Another process is doing the same exclusive step on this item right now."""


class StorageError(UserError):
    """The file system refused a step (full, read-only, another disk, a link leading out)."""
