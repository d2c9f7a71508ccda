"""A package's names loaded from its modules at first use (PEP 562's module `__getattr__`).

The vendor packages keep their clients behind this: a client imports requests (~50-70 ms),
and what a load's checks and chunk messages need of a package is its models and names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """The `__getattr__` of `package`: each name in `modules` comes from the module named beside
    it (relative, e.g. ".client"), imported when the name is first asked for."""
    def __getattr__(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(modules[name], package), name)

    return __getattr__


__all__ = ["lazy_names"]
