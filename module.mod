+ MAYAVERSION:2024 openpipeline 0.1.0 .
MAYA_PLUG_IN_PATH +:= plugin
MAYA_PLUG_IN_PATH +:= nodes
PYTHONPATH +:= .
MAYA_SHELF_PATH +:= shelves
XBMLANGPATH +:= icons

+ MAYAVERSION:2025 openpipeline 0.1.0 .
MAYA_PLUG_IN_PATH +:= plugin
MAYA_PLUG_IN_PATH +:= nodes
PYTHONPATH +:= .
MAYA_SHELF_PATH +:= shelves
XBMLANGPATH +:= icons

+ MAYAVERSION:2026 openpipeline 0.1.0 .
MAYA_PLUG_IN_PATH +:= plugin
MAYA_PLUG_IN_PATH +:= nodes
PYTHONPATH +:= .
MAYA_SHELF_PATH +:= shelves
XBMLANGPATH +:= icons
