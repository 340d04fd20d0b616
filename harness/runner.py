"""The one cell runner: every backend call goes through here, in a worker process per backend.

`harness run`, `harness show`, the gradient check, the pytest matrix and the conformance suite
all run backend code through `CellRunner`. By default each backend gets its own worker process
(pebble's `ProcessPool` with one worker, started with `spawn`), reused across that backend's
cells so its imports and compilations are paid once. A worker that dies (segfault, `os._exit`,
`sys.exit`, MemoryError, killed) or outlives the time limit ends only the cell it was running:
the cell is `crashed` or `timeout`, pebble starts a fresh worker, and the run goes on. Cells of
different backends run concurrently, `jobs` backends at a time; results come back in the order
asked. `isolate=False` calls everything in this process (for pdb); `scheduler` sends the calls
to a Dask cluster instead (see `harness.dask_executor`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from harness import workers
from harness.matrix import Cell
from harness.workers import BackendFault, BackendInfo, CellTimeout, WorkerCrashed

__all__ = [
    "DEFAULT_TIMEOUT",
    "BackendFault",
    "BackendInfo",
    "CellRunner",
    "CellTimeout",
    "WorkerCrashed",
]

DEFAULT_TIMEOUT = 120.0
"""Seconds one cell may take, its `make_step` and compilation included (the slowest built-in
cell, torch-compile with a cold inductor cache, takes about 30 s on 2 cores)."""

Task = tuple[Path, str, str]
"""(case file, backend name, dtype): one cell."""


@dataclass
class CellRunner:
    """Runs cells and other backend calls; a context manager that ends its workers on exit."""

    isolate: bool = True
    jobs: int | None = None
    """How many backends run at once (default: the number of cores)."""
    timeout: float | None = DEFAULT_TIMEOUT
    scheduler: str | None = None

    def __post_init__(self) -> None:
        self.jobs = max(1, self.jobs or os.cpu_count() or 1)
        if self.scheduler:
            from harness.dask_executor import DaskExecutor

            self._executor: Any = DaskExecutor(self.scheduler)
        elif self.isolate:
            self._executor = workers.ProcessExecutor()
        else:
            self._executor = workers.InProcessExecutor()
            self.jobs = 1  # pdb needs the main thread
        self._infos: dict[str, BackendInfo] = {}
        self._sources: dict[Path, workers.CaseSource] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def __enter__(self) -> CellRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(kill=exc_info[0] is not None)

    def close(self, kill: bool = False) -> None:
        self._executor.close(kill=kill)

    def call(self, backend: str, function: Callable, *args: Any, timeout: float | None = None):
        """`function(backend_object, *args)` in that backend's worker; faults raise."""
        limit = self.timeout if timeout is None else timeout
        return self._executor.call(backend, function, args, limit)

    def describe(self, backend: str) -> BackendInfo:
        """Name, library, strategy, dtypes and availability, asked of the worker once."""
        with self._lock:
            known = self._infos.get(backend)
        if known is None:
            try:
                known = self.call(backend, workers.describe)
            except BackendFault as exc:
                known = BackendInfo.faulty(backend, exc)
            with self._lock:
                self._infos[backend] = known
        return known

    def survey(self, names: Sequence[str], libraries: set[str] | None) -> list[BackendInfo]:
        """BackendInfo of the named backends that belong to `libraries` (all when None), asked
        one by one of a scout worker, which a plugin that crashes it cannot take others down
        with; the libraries of other backends are never imported."""
        found = []
        for name in names:
            try:
                found += self.call(workers.SCOUT, workers.survey, [name], libraries)
            except BackendFault as exc:
                found.append(BackendInfo.faulty(name, exc))
        with self._lock:
            for info in found:
                self._infos.setdefault(info.name, info)
        return found

    def source(self, case_path: Path) -> workers.CaseSource:
        """The case file's path and text, read once: what a worker loads the case from."""
        key = Path(case_path).resolve()
        with self._lock:
            if key not in self._sources:
                self._sources[key] = workers.CaseSource.read(key)
            return self._sources[key]

    def cell(self, case_path: Path, backend: str, dtype: str) -> Cell:
        """One cell; never raises for a backend's fault, whatever the fault."""
        info = self.describe(backend)
        if info.fault:  # loading or asking the plugin ended its worker
            message = f"while loading the backend: {info.reason}"
            return Cell(Path(case_path).stem, backend, dtype, info.fault, message)
        if not info.available:
            return Cell(Path(case_path).stem, backend, dtype, "skip", info.skip_reason())
        start = time.perf_counter()
        try:
            return self.call(backend, workers.run_cell, self.source(case_path), dtype)
        except BackendFault as exc:
            cell = Cell(Path(case_path).stem, backend, dtype, exc.status, str(exc))
        except Exception as exc:  # e.g. a result that cannot travel back: this cell only
            cell = Cell(Path(case_path).stem, backend, dtype, "error", workers.one_line(exc))
        cell.seconds = time.perf_counter() - start
        return cell

    def cells(
        self,
        tasks: Sequence[Task],
        on_cell: Callable[[int, Cell], None] | None = None,
        first: Sequence[str] = (),
    ) -> list[Cell]:
        """Every task, backends in parallel, each backend's cells in order on its worker.

        `on_cell(index, cell)` is called as each cell finishes (from a worker thread, one call
        at a time); the returned list is in the order of `tasks`, whatever `jobs` is. The
        backends in `first` start before the others (the slowest, so that they do not finish
        last alone).
        """
        jobs = [(task[1], partial(self.cell, *task)) for task in tasks]
        return self.map(jobs, on_cell, first)

    def gradients(self, asked: Sequence[tuple[str, Path, str, str]]) -> list[Any]:
        """(backend, case file, run, dtype) -> that backend's gradient at the run's first step,
        or the exception that stopped it; backends in parallel."""

        def gradient(backend: str, path: Path, run: str, dtype: str):
            try:
                return self.call(backend, workers.gradient, self.source(path), run, dtype)
            except Exception as exc:  # the gradient check reports it as that check's error
                return exc

        return self.map([(key[0], partial(gradient, *key)) for key in asked])

    def map(
        self,
        jobs: Sequence[tuple[str, Callable[[], Any]]],
        on_done: Callable[[int, Any], None] | None = None,
        first: Sequence[str] = (),
    ) -> list[Any]:
        """Run each (backend, job): `self.jobs` backends at a time, each backend's jobs in
        order; results in the order given. Ctrl-C ends every worker at once."""
        results: list[Any] = [None] * len(jobs)
        by_backend: dict[str, list[int]] = {name: [] for name in first}
        for index, (backend, _) in enumerate(jobs):
            by_backend.setdefault(backend, []).append(index)
        report = threading.Lock()

        def run_backend(indices: list[int]) -> None:
            for index in indices:
                if self._stopping:
                    return
                results[index] = result = jobs[index][1]()
                if on_done and not self._stopping:
                    with report:
                        on_done(index, result)

        if self.jobs == 1:
            for indices in by_backend.values():
                run_backend(indices)
            return results
        pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="harness-backend")
        try:
            for future in [pool.submit(run_backend, i) for i in by_backend.values()]:
                future.result()
        except BaseException:  # Ctrl-C: end the workers now, report nothing more
            self._stopping = True
            self.close(kill=True)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return results
