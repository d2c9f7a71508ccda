"""Every task module, in one list: the worker app includes them, the client imports them
(each module's import registers its operations in tasks.operations.OPERATIONS)."""

from __future__ import annotations

import importlib

TASK_MODULES = (
    "tasks.ringostat",
    "tasks.ringostat_minicrm",
    "tasks.pozvonim",
    "tasks.obzvonilka",
    "tasks.salesscriptprompter",
)


def load_all() -> None:
    for module in TASK_MODULES:
        importlib.import_module(module)
