"""Which project a command works on: one rule for the CLI, the Maya menu and farm scripts.

An explicit choice (a folder or a registered name) wins, then the
``OPENPIPELINE_PROJECT`` environment variable, then the registry's active project.
A folder given explicitly is opened without reading the registry, so a damaged
registry never stands between an artist and a project whose folder they name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from openpipeline.core import registry
from openpipeline.core.config import CONFIG_NAME
from openpipeline.core.errors import ConfigError, ProjectNotFoundError, UserError
from openpipeline.core.project import Project

PROJECT_ENV = "OPENPIPELINE_PROJECT"
PROJECT_CACHE = "cache"  # a project's result cache, under its hidden .openpipeline folder
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z", re.ASCII)  # a project name (see core/names.py)


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
        return Project.open(_folder_of(chosen))
    active = registry.active_path()
    if active is None:
        raise ProjectNotFoundError(
            f"No project selected; {how}, or run 'openpipeline project activate NAME'."
        )
    return Project.open(active)


def _folder_of(chosen: str) -> Path:
    """The folder of an explicit choice; a folder is opened without reading the registry.

    Text that cannot be a project name (``/mnt/film``, ``./film``) is a folder. A plain
    word is looked up in the registry first; if the registry cannot be read and the
    word names a project folder, that folder is used, so a damaged registry never
    blocks a project given explicitly.
    """
    if not _NAME.match(chosen):
        return Path(chosen)
    try:
        return registry.lookup(chosen)
    except ConfigError:
        if (Path(chosen) / CONFIG_NAME).is_file():
            return Path(chosen)
        raise


def selected_project_cache(chosen: str | None = None, *, strict: bool = True) -> Path | None:
    """The selected project's result-cache folder, or None when no project is selected.

    One rule for the CLI, the farm scripts and the nodes. A project chosen explicitly
    (``chosen`` or ``$OPENPIPELINE_PROJECT``) that cannot be opened is an error unless
    ``strict`` is False (the nodes: a compute never fails over the project); a damaged
    registry's active project is not (the caller uses the user's cache): it never stands
    between an artist and a texture job.
    """
    chosen = chosen or os.environ.get(PROJECT_ENV)
    try:
        return select_project(chosen).meta / PROJECT_CACHE
    except ProjectNotFoundError:
        return None
    except UserError:
        if chosen and strict:
            raise
        return None
