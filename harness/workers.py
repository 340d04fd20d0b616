"""Both sides of a backend call: what runs in a worker, and the executors that send it there.

The worker side (`invoke`, `describe`, `run_cell`, `gradient`) loads the backend by its
entry-point name and each case from its file, once per worker, with the case's arrays made
read-only so that no backend can write into what a later cell reads. The coordinator side
turns a dead worker or a call past its limit into a `BackendFault` that names what happened.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import signal
import tempfile
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.protocol import Availability


class BackendFault(Exception):
    """A backend call that ended without a result: the message says how, in one line."""

    status = "crashed"


class WorkerCrashed(BackendFault):
    """The worker died, or the backend ended it (sys.exit, KeyboardInterrupt, MemoryError)."""


class CellTimeout(BackendFault):
    """The call ran past its limit; its worker was ended and replaced."""

    status = "timeout"


@dataclass(frozen=True)
class BackendInfo:
    """What the coordinator needs to know of a backend, asked of its worker."""

    name: str
    library: str
    strategy: str
    dtypes: tuple[str, ...]
    slow: bool
    available: bool
    reason: str = ""
    version: str = ""
    fault: str = ""
    """"crashed" or "timeout" when asking the worker failed: its cells get that status."""
    warnings: tuple[str, ...] = ()
    """Warnings the plugin's import or availability check gave (recorded, never raised)."""

    @classmethod
    def faulty(cls, name: str, fault: BackendFault) -> BackendInfo:
        dtypes = ("float32", "float64")
        return cls(name, "?", "autograd", dtypes, False, False, str(fault), fault=fault.status)

    def availability(self) -> Availability:
        return Availability(self.available, self.reason, self.version)

    def skip_reason(self) -> str:
        return f"unavailable: {self.reason}"


# ---- the worker side ----

_BACKENDS: dict[str, Any] = {}
_CASES: dict[tuple[Path, str], Any] = {}
_REFERENCES: dict[Path, Any] = {}


def invoke(name: str, function, args: tuple, contain_interrupt: bool = True):
    """Call `function(backend, *args)`; a plugin that exits or is interrupted is a crash."""
    try:
        return function(None if name == SCOUT else _backend(name), *args)
    except SystemExit as exc:
        raise WorkerCrashed(f"the backend called sys.exit({exc.code!r})") from None
    except MemoryError as exc:
        raise WorkerCrashed(f"MemoryError: {one_line(exc)}") from None
    except KeyboardInterrupt:
        if not contain_interrupt:
            raise
        raise WorkerCrashed("the backend raised KeyboardInterrupt") from None


SCOUT = "(scout)"
"""The worker that looks over plugins without running any backend's cells."""


def _backend(name: str):
    if name not in _BACKENDS:
        from harness import plugins

        _BACKENDS[name] = plugins.load(name)
    return _BACKENDS[name]


@dataclass(frozen=True)
class CaseSource:
    """A case file's path and text: a worker on another machine loads it from the text."""

    path: Path
    text: str

    @classmethod
    def read(cls, path: Path) -> CaseSource:
        path = Path(path).resolve()
        return cls(path, path.read_text(encoding="utf-8"))

    def local_path(self) -> Path:
        """The file itself when this machine has it unchanged, else a copy of the text."""
        try:
            if self.path.read_text(encoding="utf-8") == self.text:
                return self.path
        except OSError:
            pass
        digest = hashlib.sha256(self.text.encode()).hexdigest()[:16]
        copy = Path(tempfile.gettempdir()) / f"xp-harness-cases-{digest}" / self.path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(self.text, encoding="utf-8")
        return copy


def load_case(source: CaseSource | Path):
    """The case, loaded once per worker (again if the file changed), its arrays read-only."""
    from harness import cases

    if not isinstance(source, CaseSource):
        source = CaseSource.read(source)
    key = (source.path, hashlib.sha256(source.text.encode()).hexdigest())
    if key not in _CASES:
        case = cases.load(source.local_path())
        for array in _arrays(case):
            array.flags.writeable = False
        _CASES[key] = case
    return _CASES[key]


def _arrays(case):
    yield from case.params.values()
    for run in case.runs:
        yield run.x
        yield run.y
        yield from (golden.value for golden in run.golden.values())


def describe(backend) -> BackendInfo:
    from harness import gradcheck, plugins

    status = plugins.availability(backend)
    return BackendInfo(
        backend.name,
        str(backend.library),
        gradcheck.strategy(backend),
        tuple(backend.dtypes),
        bool(getattr(backend, "slow", False)),
        status.available,
        status.reason,
        status.version,
        warnings=tuple(getattr(status, "warnings", ())),
    )


def survey(_, names: list[str], libraries: set[str] | None) -> list[BackendInfo]:
    """Load each plugin; describe those of the given libraries (all when None), without
    importing the library of any other."""
    found = []
    for name in names:
        backend = _backend(name)
        if libraries is None or str(getattr(backend, "library", "?")) in libraries:
            found.append(describe(backend))
    return found


def slow_flags(_, names: list[str]) -> dict[str, bool]:
    """Run in the runner's scout worker at collection: which backends declare `slow`, read
    from the plugin objects without importing any array library or starting their workers."""
    from harness import plugins

    points = plugins.discover()
    return {name: bool(getattr(plugins.load(name, points), "slow", False)) for name in names}


def run_cell(backend, source: CaseSource, dtype: str):
    from harness import matrix

    case = load_case(source)
    reference = _REFERENCES.setdefault(case.path.resolve(), matrix.Reference())
    return matrix.run_cell(case, backend, dtype, reference)


def gradient(backend, source: CaseSource, run_name: str, dtype: str):
    """The backend's gradient at a run's first step, for the three-way check."""
    from harness import gradcheck

    case = load_case(source)
    run = next(r for r in case.runs if r.name == run_name)
    return gradcheck.backend_gradient(backend, case, run, dtype)


def _start_worker() -> None:
    """A worker leaves Ctrl-C to the coordinator, which ends it; JAX keeps compilations."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from harness import compile_cache

    compile_cache.enable()


# ---- the coordinator side ----


class InProcessExecutor:
    """Everything in this process: for pdb, no containment of crashes or time."""

    def call(self, backend: str, function, args: tuple, limit: float | None):
        return invoke(backend, function, args, contain_interrupt=False)

    def close(self, kill: bool = False) -> None:
        pass


class ProcessExecutor:
    """One pebble process pool of one worker per backend, started on first use."""

    def __init__(self) -> None:
        self._pools: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")

    def _pool(self, backend: str):
        import pebble

        with self._lock:
            if backend not in self._pools:
                self._pools[backend] = pebble.ProcessPool(
                    max_workers=1, initializer=_start_worker, context=self._context
                )
            return self._pools[backend]

    def call(self, backend: str, function, args: tuple, limit: float | None):
        import pebble

        future = self._pool(backend).schedule(invoke, args=(backend, function, args), timeout=limit)
        try:
            return future.result()
        except pebble.ProcessExpired as exc:
            raise WorkerCrashed(f"the worker died: {exit_reason(exc.exitcode)}") from None
        except BrokenProcessPool:  # it died starting up: the next call gets a fresh pool
            with self._lock:
                broken = self._pools.pop(backend, None)
            if broken is not None:
                broken.stop()
            raise WorkerCrashed(
                "the worker died as it started (an unguarded __main__ that runs the harness "
                "again, under spawn?)"
            ) from None
        except FutureTimeout as exc:
            if exc.args[:1] != ("Task timeout",):
                raise  # the backend's own TimeoutError: an error of the cell
            raise CellTimeout(f"ran past the {limit:g} s limit; its worker was ended") from None

    def close(self, kill: bool = False) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.stop() if kill else pool.close()
        for pool in pools:
            pool.join(timeout=10)


def exit_reason(code: int | None) -> str:
    """`killed by SIGSEGV` or `exit status 3`."""
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def one_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
