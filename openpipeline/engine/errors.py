"""Exception types of the compute engine (it never imports the pipeline core).

:class:`EngineInputError` means the input cannot be used (a bad mesh, an
unreadable image, a count below one); its message is one sentence saying what
is wrong and what to do. The CLI turns it into exit code 2.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every engine error."""


class EngineInputError(EngineError):
    """The input is unusable; nothing was written."""


class Cancelled(EngineError):
    """The caller asked the work to stop."""
