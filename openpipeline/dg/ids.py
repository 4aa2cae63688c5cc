"""Every name Maya stores or types: node type IDs, node names, command names.

Type IDs are written into ``.mb`` scene files: an ID, once released, belongs to its
node for ever. Never renumber or reuse one; a new node takes the next free ID of the
block.
"""

from __future__ import annotations

# The site-internal block OpenPipeline uses (Maya reserves 0x00000-0x7FFFF for
# site-internal IDs); every ID below lies in it.
TYPE_ID_BLOCK = (0x0007F000, 0x0007FFFF)

TEXTURE_NODE = "opDipTexture"
SCATTER_NODE = "opNeuralGasScatter"

# never renumber or reuse
TYPE_IDS: dict[str, int] = {
    TEXTURE_NODE: 0x0007F000,
    SCATTER_NODE: 0x0007F001,
}

# The node plug-in file (in nodes/) that registers each node, as cmds.loadPlugin takes it.
NODE_PLUGINS: dict[str, str] = {
    TEXTURE_NODE: "opDipTexture.py",
    SCATTER_NODE: "opNeuralGasScatter.py",
}

VENDOR = "OpenPipeline"

# Commands registered by plugin/openPipeline.py (usable from MEL and Python).
RESTORE_TEXTURE_COMMAND = "opRestoreTexture"
SCATTER_COMMAND = "opScatter"

# The pipeline verbs of the menu, each running one openpipeline.host.menu action:
# command name -> (menu function, its positional arguments).
PIPELINE_COMMANDS: dict[str, tuple[str, tuple[object, ...]]] = {
    "opSetItem": ("set_item", ()),
    "opSaveWorkshop": ("save_workshop", ()),
    "opMaster": ("master", ()),
    "opReferenceMaster": ("bring_in", ("reference",)),
    "opImportMaster": ("bring_in", ("import",)),
    "opCheckOut": ("check_out", (True,)),
    "opCheckIn": ("check_out", (False,)),
    "opHistory": ("history", ()),
}

COMMANDS: tuple[str, ...] = (RESTORE_TEXTURE_COMMAND, SCATTER_COMMAND, *PIPELINE_COMMANDS)
