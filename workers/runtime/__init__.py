"""The worker side of tasks.runtime: WorkerRuntime (worker_runtime.py) and what it builds from
settings: vendor clients (vendor_clients.py), Pozvonim tokens, once-only claims, secret references."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workers.runtime.worker_runtime import WorkerRuntime


def __getattr__(name: str):
    # Lazy on purpose: workers.client (the light API for other apps) imports
    # workers.runtime.secret_store, and an eager re-export here would load the whole worker
    # runtime (vendor clients, limiter, ledger) into every such app: +67 ms to
    # `import workers.client` (python -X importtime); tests/stack/test_client_api.py checks it stays out.
    if name == "WorkerRuntime":
        from workers.runtime.worker_runtime import WorkerRuntime

        return WorkerRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["WorkerRuntime"]
