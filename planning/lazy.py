"""Heavy solver modules loaded on first use, so commands that never solve do not pay for importing them."""

from __future__ import annotations

import importlib
import threading
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for a module and imports it, once and under a lock, when an attribute is first read.

    (importlib's LazyLoader is not safe when two threads touch the module first at the same time.)
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None
        self._lock = threading.Lock()

    def _load(self) -> ModuleType:
        with self._lock:
            if self._module is None:
                self._module = importlib.import_module(self._name)
            return self._module

    def __getattr__(self, attr: str) -> Any:
        module = self._module or self._load()
        return getattr(module, attr)


def lazy_import(name: str) -> Any:
    """``name`` as an object that behaves like the module once an attribute is read."""
    return LazyModule(name)
