"""OpenPipeline: an asset/shot pipeline for Autodesk Maya.

Importing this package never imports Maya, Qt or torch; the Maya glue lives in
``plugin/``, ``nodes/`` and :mod:`openpipeline.host.maya`.
"""

__version__ = "0.1.0"
