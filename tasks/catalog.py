"""Every task module, by vendor: the worker app includes them all, the client imports them all,
a publisher only its task's vendor's (each module's import registers its operations in
tasks.operations.OPERATIONS). A task's name starts with its vendor: `ringostat.campaign_rows.add`."""

from __future__ import annotations

import importlib

VENDOR_TASK_MODULES = {
    "ringostat": ("tasks.ringostat", "tasks.ringostat_minicrm"),
    "pozvonim": ("tasks.pozvonim",),
    "obzvonilka": ("tasks.obzvonilka",),
    "salesscriptprompter": ("tasks.salesscriptprompter",),
}
TASK_MODULES = tuple(module for modules in VENDOR_TASK_MODULES.values() for module in modules)


def load_all() -> None:
    # Lazy on purpose, the one lazy import in tasks/: the task modules (every vendor client and
    # payload model) cost 0.25-0.65 s on top of `import workers.client`, measured on the project's
    # 2-core machines (0.9 s cold), and an app importing the public API pays it only when it builds
    # a Telequeue. Celery's `include` takes these names as strings anyway.
    for module in TASK_MODULES:
        importlib.import_module(module)


def load_for(task_name: str) -> None:
    """The task modules of `task_name`'s vendor (none for a name of no vendor, e.g. `celery.*`):
    enough to know that task's operation. Publishing a Ringostat chunk from `telequeue load` so
    skips the other vendors' modules (60-90 ms, python -X importtime, 2 loaded cores)."""
    for module in VENDOR_TASK_MODULES.get(task_name.split(".", 1)[0], ()):
        importlib.import_module(module)
