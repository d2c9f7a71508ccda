"""What the compose file and the Kubernetes manifests both hold to: pinned images, Flower's saved
state, the grace period a chunk needs after SIGTERM, and reading options out of an argv list."""

from __future__ import annotations

import re

from workers.settings import Settings

#: an image by exact version: `name:1.2.3[-variant]`, optionally with a digest
PINNED_IMAGE = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+(?:-[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$")
#: Flower's saved state: at most this many tasks, saved at most this often (BENCHMARKS.md
#: "Flower's saved state": one save blocks Flower's event loop for its whole duration)
FLOWER_MAX_TASKS, FLOWER_SAVE_INTERVAL_MS = 10_000, 60_000


def option(args: list[str], *names: str) -> str | None:
    """The value of `--name value`, `--name=value` or `-N value` in an argv list."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def longest_chunk_after_sigterm_s(settings: Settings) -> float:
    """How long a chunk may still run after SIGTERM (deploy/README.md "Stopping and restarts"): its
    time budget, then the row that got a limiter reservation just before it ran out (a reservation
    is never booked further ahead than max_limiter_wait_s) and that row's vendor call (shorter than
    the row lease), then 15 s for the ack, the hand-over publish and the connection close."""
    return settings.chunk_time_budget_s + settings.max_limiter_wait_s + settings.row_lease_s + 15
