"""Run the suite: one pytest process per library, with a progress bar, then merge the JSON.

A process per library keeps one library's threads (OpenBLAS spins for about 0.1 s after a
call) from slowing the next, and gives each Keras backend the process it needs (Keras picks
its backend at import). Inside a process, harness and native code of that library run side
by side, so their ratio is taken under the same conditions.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import plugins

PROGRESS_ENV, PROGRESS_MARK = "HARNESS_BENCH_PROGRESS", "@@harness-bench"
NATIVE_LIBRARIES = ("numpy", "torch", "jax")
RIVALS = {"keras-jax": "jax", "keras-torch": "torch"}
TIMING = {
    True: ["--benchmark-max-time=0.05", "--benchmark-min-rounds=3"],
    False: ["--benchmark-max-time=0.4", "--benchmark-min-rounds=5"],
}
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SINGLE_THREAD = "1-thread"
SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


@dataclass
class Group:
    """What one pytest process times: a library's harness backends and its native code."""

    library: str
    backends: list[str] = field(default_factory=list)
    skipped: str = ""
    threads: int = 0
    """Threads every library in the process is told to use; 0: leave them be."""
    series: str = ""
    """"" for the main run; SINGLE_THREAD for the homework series on one thread."""

    @property
    def name(self) -> str:
        return f"{self.library}-{self.series}" if self.series else self.library

    @property
    def env(self) -> dict[str, str]:
        extra = {PROGRESS_ENV: "1"}
        if self.library in RIVALS:
            extra["KERAS_BACKEND"] = RIVALS[self.library]
        if self.threads:
            extra.update(dict.fromkeys(THREAD_ENV, str(self.threads)))
        if self.threads == 1:
            flags = os.environ.get("XLA_FLAGS", "")
            extra["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD_XLA}".strip()
        return {**os.environ, **extra}


def single_thread(groups: list[Group]) -> list[Group]:
    """The 1-thread series: each native library's process again, one thread, homework only."""
    return [
        replace(g, backends=list(g.backends), threads=1, series=SINGLE_THREAD)
        for g in groups
        if g.library in NATIVE_LIBRARIES and not g.skipped
    ]


def known_names() -> list[str]:
    return [*plugins.discover(), *RIVALS]


def plan(asked: list[str]) -> list[Group]:
    """Groups in running order: NumPy, torch, JAX, other libraries, then each Keras backend."""
    groups: dict[str, Group] = {}
    for name in asked or known_names():
        if name in RIVALS:
            group = groups.setdefault(name, Group(name))
            group.backends.append(name)
            if importlib.util.find_spec("keras") is None:
                group.skipped = "keras is not installed (pip install 'xp-harness[bench]')"
            continue
        backend = plugins.load(name)
        status = plugins.availability(backend)
        group = groups.setdefault(backend.library, Group(backend.library))
        if status.available:
            group.backends.append(name)
        elif not group.backends:
            group.skipped = f"{name} unavailable: {status.reason}"
    order = {lib: i for i, lib in enumerate([*NATIVE_LIBRARIES, *RIVALS])}
    return sorted(
        groups.values(), key=lambda g: (order.get(g.library, len(NATIVE_LIBRARIES)), g.library)
    )


def bench_dir() -> Path:
    """The suite: the installed `harness_bench` package, else bench/ beside harness/."""
    spec = importlib.util.find_spec("harness_bench")
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "bench"


def command(group: Group, options: dict, json_path: Path) -> list[str]:
    """The group's pytest command line; harness backends are named only when the user chose
    them, so that the suite's own defaults (no torch.compile in a quick run) apply otherwise."""
    suite = bench_dir()
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(suite / "pytest.ini"),
        "--rootdir",
        str(suite),
        str(suite),
        "-s",
        "-q",
        "-rs",
        "--bench-library",
        group.library,
        f"--benchmark-json={json_path}",
        "--bench-device",
        options["device"],
        "--bench-threads",
        str(group.threads),
        *TIMING[options["quick"]],
    ]
    if group.series:  # the step at homework size only; torch.compile left to the main run
        args += ["--bench-series", group.series, "-k", "bench_step and not compile"]
    elif options.get("kinds"):
        args += ["-k", " or ".join(f"bench_{kind}" for kind in options["kinds"])]
    for name in group.backends if options["backends"] else ():
        args += ["--bench-backend", name]
    for size in ("homework",) if group.series else options["sizes"]:
        args += ["--bench-size", size]
    for dtype in options["dtypes"]:
        args += ["--bench-dtype", dtype]
    if options["quick"]:
        args.append("--bench-quick")
    return args


def run_group(group: Group, options: dict, out: Path, progress) -> tuple[bool, Path | None]:
    """Run one group's process: whether it succeeded, and its JSON if it timed anything."""
    json_path, log_path = (out / "raw" / f"{group.name}.json", out / "logs" / f"{group.name}.log")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.unlink(missing_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command(group, options, json_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=group.env,
        )
        for line in proc.stdout:
            before, mark, event = line.partition(PROGRESS_MARK)
            log.write(before if mark else line)
            if mark:
                progress.event(group.name, event.split())
        code = proc.wait()
    if code not in (0, 5):
        tail = log_path.read_text().splitlines()[-15:]
        progress.note(f"{group.name}: pytest exited {code}; see {log_path}\n" + "\n".join(tail))
    return code in (0, 5), (json_path if json_path.exists() else None)
