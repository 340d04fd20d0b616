"""Where and how a run was made, so that its JSON can be read, kept and compared on its own.

The record names the harness (version, and git commit where the package sits in a checkout),
Python, the platform, the CPU, the thread settings the array libraries read, the versions of
the libraries and plugins installed, the command line, when the run started and how long it
took, and the tolerance policy it was judged by. Library versions come from the installed
distributions' metadata: nothing here imports an array library, and nothing here raises (a
machine without git, or a package outside any checkout, just has no commit).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import __version__

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "TORCH_NUM_THREADS",
    "XLA_FLAGS",
)
"""Environment variables that set how many threads the array libraries' kernels use."""

LIBRARIES = (
    "numpy",
    "array-api-compat",
    "array-api-extra",
    "array-api-strict",
    "torch",
    "jax",
    "jaxlib",
    "dask",
    "distributed",
    "ndonnx",
    "sparse",
)
"""Distributions whose version bears on a result; plugins' distributions are added to them."""


def record(argv: list[str] | None = None) -> dict:
    """The environment of a run starting now; `duration_s` is filled in as it goes."""
    argv = list(sys.argv if argv is None else argv)
    return {
        "harness": {"version": __version__, **commit()},
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {"system": platform.platform(), "machine": platform.machine()},
        "cpu": cpu(),
        "threads": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "libraries": versions(),
        "command": argv,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": None,
        "tolerance": tolerance_policy(),
    }


class Clock:
    """Keeps a record's `duration_s` up to date: monotonic, so a clock change cannot skew it."""

    def __init__(self, environment: dict) -> None:
        self.environment, self._start = environment, time.monotonic()

    def tick(self) -> None:
        self.environment["duration_s"] = round(time.monotonic() - self._start, 3)


PACKAGE = Path(__file__).resolve().parent


def commit(package: Path = PACKAGE) -> dict:
    """The checkout's commit and whether it has uncommitted changes, when the harness is
    imported from a git work tree (an editable install); {} otherwise, and never an error."""
    top = _git(package, "rev-parse", "--show-toplevel")
    if top is None or (Path(top) / "harness").resolve() != package.resolve():
        return {}  # not a checkout, or a checkout of some other project around site-packages
    head = _git(package, "rev-parse", "HEAD")
    status = _git(package, "status", "--porcelain", "--untracked-files=no")
    if head is None:
        return {}
    return {"commit": head, "dirty": bool(status)} if status is not None else {"commit": head}


def _git(where: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):  # no git on the machine, or it hung
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def cpu() -> dict:
    """The CPU model, the machine's logical cores, and those this process may run on."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "model": _cpu_model(),
        "count": os.cpu_count(),
        "usable": len(usable) if usable is not None else os.cpu_count(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    """Installed versions of the array libraries and of every backend plugin's distribution."""
    names = list(LIBRARIES)
    for point in importlib.metadata.entry_points(group="harness.backends"):
        dist = getattr(point, "dist", None)
        if dist is not None and dist.name not in names:
            names.append(dist.name)
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def tolerance_policy() -> dict[str, dict[str, float]]:
    """The default rtol and atol per dtype (a case may override them, with its reason)."""
    from harness.tolerance import DEFAULT

    return {dtype: {"rtol": t.rtol, "atol": t.atol} for dtype, t in DEFAULT.items()}
