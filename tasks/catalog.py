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
    # Lazy on purpose, the one lazy import in tasks/: the task modules (every vendor client and
    # payload model) cost 0.25-0.65 s on top of `import workers.client`, measured on the project's
    # 2-core machines (0.9 s cold), and an app importing the public API pays it only when it builds
    # a Telequeue. Celery's `include` takes these names as strings anyway.
    for module in TASK_MODULES:
        importlib.import_module(module)
