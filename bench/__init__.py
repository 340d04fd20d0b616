"""Benchmarks of xp-harness, run by `harness bench` (or `pytest bench`) with pytest-benchmark.

The files are named `bench_*.py` and bench/ has its own pytest.ini, so the default `pytest`
run (tests/) never collects them. Installed as `harness_bench`, so that `harness bench` finds
them from any install.
"""
