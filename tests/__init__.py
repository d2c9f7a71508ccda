"""telequeue's tests, by level (README, "Running the tests").

A package, as is each level folder: pytest then imports `tests/redis/test_x.py` as
`tests.redis.test_x` with the repository root on sys.path, so the folder `tests/redis/` never
shadows the `redis` library.
"""
