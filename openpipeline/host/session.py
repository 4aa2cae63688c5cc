"""Pointing the DCC at a project: directory mapping and workspace.

When an item is set or its scene opened, paths written on another OS (the
project's other ``roots``) are mapped to this machine's root, and the DCC's
project folder (Maya: the workspace) becomes the project root, so relative
texture and cache paths resolve inside the project.
"""

from __future__ import annotations

from openpipeline.core.dirmap import dirmap_pairs
from openpipeline.core.layout import ProjectLayout, current_platform
from openpipeline.host import Host


def enter_project(project: ProjectLayout, host: Host, platform: str | None = None) -> list[tuple[str, str]]:
    """Map the project's other roots to this machine's and make its root the workspace.

    Returns:
        The ``(from, to)`` mappings given to the host.
    """
    platform = platform or current_platform()
    pairs = dirmap_pairs(project.config.roots, platform, project.root.as_posix())
    if pairs:
        host.set_dirmap(pairs)
    host.set_workspace(project.root)
    return pairs
