"""For a developer's machine: the demo, local stack helpers (Redis, worker, Flower processes),
and the README's task-table generator. data/ holds the demo's CSV."""
