"""Make Qt unimportable in this interpreter (and, via PYTHONPATH, in every child it starts).

Used by ``make test-core-no-qt`` to prove the core runs with PySide6 and pyqtgraph absent.
"""

import importlib.abc
import sys

BLOCKED = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "ui")


class _BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in BLOCKED:
            raise ImportError(f"{fullname} is blocked: the core must not need Qt")
        return None


sys.meta_path.insert(0, _BlockQt())
