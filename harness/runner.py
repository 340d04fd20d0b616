"""The one cell runner: every backend call goes through here, and every verdict is made here.

`harness run`, `harness show`, the gradient check, the pytest matrix, the conformance suite and
`harness fuzz` all run backend code through `CellRunner`. Each backend gets a worker process
of its own (`harness.processes`), reused across its cells so that its imports and compilations
are paid once. The worker runs plugin calls only and sends back plain data; the float64
reference, the comparisons, the first-divergence diagnosis and the gradient check run here,
in the coordinator, which never imports a plugin. A worker that dies, or outlives the time
limit, ends only the call it was running: the cell is `crashed` or `timeout`, a fresh worker
takes the next call (until it has died `MAX_DEATHS` times), and the run goes on. Cells of
different backends run concurrently, `jobs` backends at a time; results come back in the
order asked. `isolate=False` calls everything in this process (for pdb); `scheduler` sends the
calls to a Dask cluster instead (see `harness.dask_executor`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from harness.channel import BackendError, BackendInfo, Channel, InProcessExecutor
from harness.processes import (
    MAX_DEATHS,
    BackendFault,
    CellTimeout,
    ProcessExecutor,
    WorkerCrashed,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_DEATHS",
    "SLOW_TIMEOUT",
    "BackendError",
    "BackendFault",
    "BackendInfo",
    "CellRunner",
    "CellTimeout",
    "WorkerCrashed",
]

DEFAULT_TIMEOUT = 120.0
"""Seconds one cell may take, its `make_step` and compilation included (the slowest built-in
cell, torch-compile with a cold inductor cache, takes about 30 s on 2 cores)."""

SLOW_TIMEOUT = 600.0
"""The default for a backend that declares `slow = True` (torch.compile; ndonnx, whose train
cells take about 110 s here): five times DEFAULT_TIMEOUT."""

SCOUT = "(scout)"
"""The worker that reads plugins' `slow` flags without running any backend's cells."""

Task = tuple[Path, str, str]
"""(case file, backend name, dtype): one cell."""


@dataclass
class CellRunner:
    """Runs cells and other backend calls; a context manager that ends its workers on exit."""

    isolate: bool = True
    jobs: int | None = None
    """How many backends run at once (default: the number of cores)."""
    timeout: float | None = None
    """Seconds per call; None: DEFAULT_TIMEOUT, or SLOW_TIMEOUT for a backend declared slow."""
    scheduler: str | None = None
    timeout_option: str = "--timeout"
    """The option a timeout message tells the user to raise."""
    max_deaths: int = MAX_DEATHS
    _infos: dict[str, BackendInfo] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        from harness.matrix import Reference

        self.jobs = max(1, self.jobs or os.cpu_count() or 1)
        if self.scheduler:
            from harness.dask_executor import DaskExecutor

            self._executor: Any = DaskExecutor(self.scheduler, self.max_deaths)
        elif self.isolate:
            self._executor = ProcessExecutor(self.max_deaths)
        else:
            self._executor = InProcessExecutor()
            self.jobs = 1  # pdb needs the main thread
        self.reference = Reference()
        self._cases: dict[Path, Any] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def __enter__(self) -> CellRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(kill=exc_info[0] is not None)

    def close(self, kill: bool = False) -> None:
        self._executor.close(kill=kill)

    def channel(self, backend: str) -> Channel:
        """The backend's calls, through its worker, with its time limit; its description is
        asked once per runner."""
        info = self.describe(backend)
        return Channel(_Limited(self), backend, self.limit(backend), lambda: info)

    def limit(self, backend: str) -> float:
        if self.timeout is not None:
            return self.timeout
        with self._lock:
            info = self._infos.get(backend)
        return SLOW_TIMEOUT if info is not None and info.slow else DEFAULT_TIMEOUT

    def describe(self, backend: str) -> BackendInfo:
        """Name, library, strategy, dtypes and availability, asked of the worker once."""
        with self._lock:
            known = self._infos.get(backend)
        if known is None:
            try:
                known = Channel(_Limited(self), backend, self.limit(backend)).info()
            except BackendFault as exc:
                known = BackendInfo.faulty(backend, exc)
            with self._lock:
                self._infos[backend] = known
        return known

    def survey(self, names: Sequence[str]) -> list[BackendInfo]:
        """BackendInfo of each named backend, each asked of its own worker, in parallel."""
        return self.map([(name, partial(self.describe, name)) for name in names])

    def case(self, case_path: Path):
        """The case, loaded here once: the judge's own copy, whatever a worker loads."""
        from harness import cases

        key = Path(case_path).resolve()
        with self._lock:
            if key not in self._cases:
                self._cases[key] = cases.load(key)
            return self._cases[key]

    def cell(self, case_path: Path, backend: str, dtype: str):
        """One cell, judged here; never raises for a backend's fault, whatever the fault."""
        from harness.matrix import Cell, run_cell

        start = time.perf_counter()
        case = self.case(case_path)
        channel = self.channel(backend)
        try:
            return run_cell(case, channel, dtype, self.reference)
        except BackendFault as exc:
            cell = Cell(case.name, backend, dtype, exc.status, str(exc))
        except Exception as exc:  # a bug of ours must still end only this cell
            cell = Cell(case.name, backend, dtype, "error", f"{type(exc).__name__}: {exc}")
        cell.seconds = time.perf_counter() - start
        cell.output = "".join(channel.output)
        return cell

    def cells(
        self,
        tasks: Sequence[Task],
        on_cell: Callable[[int, Any], None] | None = None,
        first: Sequence[str] = (),
    ) -> list:
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
        from harness.gradcheck import backend_gradient

        def gradient(backend: str, path: Path, run_name: str, dtype: str):
            try:
                case = self.case(path)
                run = next(r for r in case.runs if r.name == run_name)
                return backend_gradient(self.channel(backend), case, run, dtype)
            except Exception as exc:  # the gradient check reports it as that check's error
                return exc

        return self.map([(key[0], partial(gradient, *key)) for key in asked])

    def pairings(self, names: Sequence[str]) -> list:
        """Each selected backend with its counterpart of the other strategy on its library:
        from the selection first, then from the built-in backends (never another plugin that
        was not selected, which is not even imported)."""
        from harness import gradcheck, plugins

        selected = self.survey(names)
        libraries = {info.library for info in selected if info.available}
        others = self.survey(plugins.builtin_counterparts(libraries, list(names)))
        return gradcheck.pairings(selected, [*selected, *others])

    def slow_backends(self, names: Sequence[str]) -> list[str]:
        """The backends that declare themselves slow (torch-compile), asked of the scout
        worker, which imports their plugin modules and no array library; a plugin that kills
        the scout gives no ordering, and the cells still run."""
        try:
            flags = self._executor.call(SCOUT, {"call": "slow", "args": {"names": list(names)}},
                                        DEFAULT_TIMEOUT)[0]  # fmt: skip
            value = flags.get("value") if isinstance(flags, dict) else None
        except Exception:
            value = None
        value = value if isinstance(value, dict) else {}
        return [name for name in names if value.get(name) is True]

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

        if self.jobs == 1 or len(by_backend) <= 1:
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


@dataclass
class _Limited:
    """The runner's executor, with a timeout message that names the option to raise."""

    runner: CellRunner

    def call(self, backend: str, message: dict, limit: float | None):
        try:
            return self.runner._executor.call(backend, message, limit)
        except CellTimeout as exc:
            option = self.runner.timeout_option
            raise CellTimeout(f"{exc} (raise the limit with {option} SECONDS)") from None
