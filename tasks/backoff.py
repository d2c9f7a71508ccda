"""Exponential backoff with full jitter, in one place."""

from __future__ import annotations

import random


def backoff_s(attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (0-based): uniform in [base*2^attempt / 2, base*2^attempt], capped."""
    ceiling = min(max_s, base_s * (2 ** attempt))
    return (rng or random).uniform(ceiling / 2, ceiling)
