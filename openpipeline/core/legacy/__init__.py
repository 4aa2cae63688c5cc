"""Projects made by the original openPipeline MEL plug-in (0.9.x), and their adoption.

:mod:`.formats` reads the original's files (the project registry, item
descriptions, item histories) as its own readers did, tolerant of their broken
XML; :mod:`.adopt` turns such a project into one of ours without changing a
byte of what the original wrote. Nothing here ever runs the project's MEL scripts.
"""

from __future__ import annotations

from openpipeline.core.legacy.adopt import AdoptionPlan, adopt, plan_adoption
from openpipeline.core.legacy.formats import (
    LegacyNote,
    LegacySettings,
    read_description,
    read_notes,
    read_registry,
)

__all__ = ["AdoptionPlan", "LegacyNote", "LegacySettings", "adopt", "plan_adoption",
           "read_description", "read_notes", "read_registry"]
