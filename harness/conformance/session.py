"""The session's one `CellRunner` and its case files, made on first use and closed at the end.

Collection and the tests share them, so each backend's worker process starts once per pytest
session (once per pytest-xdist worker under `-n`) and its imports and compilations are reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from harness.conformance import selection


class CellSpec(NamedTuple):
    """One test's cell: a case file on a backend in a dtype (and a run, for a gradient)."""

    case_path: Path
    backend: str
    dtype: str
    run: str | None = None
    error: str | None = None
    """A case file that failed to load: the test fails with this message."""


@dataclass
class HarnessSession:
    config: pytest.Config
    _runner: Any = field(default=None, repr=False)
    _cases: Any = field(default=None, repr=False)
    _pairings: dict[str, Any] = field(default_factory=dict, repr=False)
    _slow: set[str] | None = field(default=None, repr=False)
    gradients: dict = field(default_factory=dict, repr=False)
    """The gradient check's cache: central differences and each backend's gradients."""

    def runner(self):
        """The CellRunner, started on first use: an unrelated session never starts one."""
        if self._runner is None:
            from harness.runner import CellRunner

            isolate = not self.config.getoption("harness_no_isolate")
            timeout = self.config.getoption("harness_timeout")
            self._runner = CellRunner(
                isolate=isolate, jobs=1, timeout=timeout, timeout_option="--harness-timeout"
            )
        return self._runner

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def cases(self) -> tuple[list, list]:
        """(cases, errors) from --harness-cases DIR, else the installed case files."""
        if self._cases is None:
            from harness import cases

            directory = self.config.getoption("harness_cases")
            if directory is not None and not Path(directory).is_dir():
                raise pytest.UsageError(f"--harness-cases {directory}: not a directory")
            self._cases = cases.load_dir(Path(directory) if directory else None)
        return self._cases

    def backends(self) -> list[str]:
        return selection.backends(self.config)

    def pairing(self, backend: str):
        """The backend and its counterpart of the other strategy on its library (or None),
        paired as `harness run` pairs them (CellRunner.pairings)."""
        if backend not in self._pairings:
            found = self.runner().pairings([backend])
            self._pairings[backend] = found[0] if found else None
        return self._pairings[backend]

    def gradient(self, info, case, run, dtype: str):
        """One backend's gradient at a run's first step, computed in that backend's worker."""
        (result,) = self.runner().gradients([(info.name, case.path, run.name, dtype)])
        if isinstance(result, Exception):
            raise result
        return result

    def is_slow(self, backend: str) -> bool:
        """Asked of the runner's scout worker (once, for every selected backend), so that
        collection starts no backend's worker."""
        if self._slow is None:
            self._slow = set(self.runner().slow_backends(self.backends()))
        return backend in self._slow

    def cell_specs(self, gradients: bool) -> list[pytest.ParameterSet]:
        """Every case x backend x dtype (x gradient-bearing run), as ids pytest prints."""
        loaded, errors = self.cases()
        names, dtypes = self.backends(), selection.dtypes(self.config)
        many = len(names) > 1
        params = [
            pytest.param(CellSpec(Path(str(e)), "-", "-", error=str(e)), id=_bad_id(e))
            for e in errors
        ]
        for case in loaded:
            runs = [r.name for r in case.runs if r.task.kind != "forward"] if gradients else [None]
            for backend in names:
                marks = _slow_marks() if self.is_slow(backend) else []
                for dtype in dtypes:
                    for run in runs:
                        spec = CellSpec(case.path, backend, dtype, run)
                        ident = selection.test_id(case.name, backend, dtype, run, many)
                        params.append(pytest.param(spec, id=ident, marks=marks))
        return params

    def protocol_specs(self) -> list[pytest.ParameterSet]:
        names, dtypes = self.backends(), selection.dtypes(self.config)
        many = len(names) > 1
        return [
            pytest.param(
                CellSpec(Path(), backend, dtype),
                id=selection.protocol_id(backend, dtype, many),
                marks=_slow_marks() if self.is_slow(backend) else [],
            )
            for backend in names
            for dtype in dtypes
        ]


_KEY = pytest.StashKey["HarnessSession"]()


def state(config: pytest.Config) -> HarnessSession:
    """The session's harness state, made on first use."""
    if _KEY not in config.stash:
        config.stash[_KEY] = HarnessSession(config)
    return config.stash[_KEY]


def close(config: pytest.Config) -> None:
    """End the runner's workers, if this session started any."""
    if _KEY in config.stash:
        config.stash[_KEY].close()


def _bad_id(error: Exception) -> str:
    return "case-file-" + str(error).split(":", 1)[0].rsplit("/", 1)[-1].removesuffix(".toml")


def _slow_marks() -> list:
    """torch.compile's first call warns from inside torch; the warning is torch's, not ours."""
    return [
        pytest.mark.slow,
        pytest.mark.filterwarnings(
            "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
        ),
    ]
