"""The pipeline core: projects, items, workshops, masters, history, locks.

Pure Python: no Maya, no Qt, no torch. Everything here works on real files in a
project folder on shared storage, which is the single source of truth.
"""

from openpipeline.core.address import ItemRef
from openpipeline.core.errors import OpenPipelineError, UserError
from openpipeline.core.items import Item
from openpipeline.core.project import Project

__all__ = ["Item", "ItemRef", "OpenPipelineError", "Project", "UserError"]
