"""OHM's benchmarks: `python -m bench --help`. Never part of the test run (a smoke test excepted)."""
