"""The operator station's Qt layer: the only package that imports PySide6 and pyqtgraph.

Its modules mirror the Qt-free core in ``copilot`` (``copilot.station`` ↔ ``ui.station``).
"""
