"""`harness bench`: run the benchmark suite in bench/ and report it (tables, targets, plots).

Nothing here imports an array library: the suite runs in pytest subprocesses, one per
library, and the report reads their pytest-benchmark JSON. matplotlib loads only to plot.
"""
