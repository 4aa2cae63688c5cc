"""The Qt browser window (through Qt.py, so PySide2 and PySide6 both work).

Imports Qt only as ``from Qt import QtCore, QtGui, QtWidgets``; never Maya.
Not built yet: it comes with the browser issue; the package exists so the layer
contracts guard it.
"""
