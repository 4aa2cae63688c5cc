"""Which project a command works on: one rule for the CLI, the Maya menu and farm scripts.

An explicit choice (a folder or a registered name) wins, then the
``OPENPIPELINE_PROJECT`` environment variable, then the registry's active project.
"""

from __future__ import annotations

import os

from openpipeline.core import registry
from openpipeline.core.errors import ProjectNotFoundError
from openpipeline.core.project import Project

PROJECT_ENV = "OPENPIPELINE_PROJECT"


def select_project(chosen: str | None = None, *, how: str = "set OPENPIPELINE_PROJECT") -> Project:
    """Open the selected project.

    Args:
        chosen: a project folder or registered name; None falls back to
            ``$OPENPIPELINE_PROJECT``, then to the active project.
        how: the ways of choosing a project that the caller offers, named in the
            error when none is selected.

    Cost: reads the registry file and the project's config.
    """
    chosen = chosen or os.environ.get(PROJECT_ENV)
    if chosen:
        return Project.open(registry.lookup(chosen))
    active = registry.active_path()
    if active is None:
        raise ProjectNotFoundError(
            f"No project selected; {how}, or run 'openpipeline project activate NAME'."
        )
    return Project.open(active)
