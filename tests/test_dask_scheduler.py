"""`harness run --scheduler`: the same cells, containment and JSON on a Dask cluster.

The cluster is real: a `dask scheduler` and `dask worker` processes started from their command
lines, as the README shows, with per-backend `--resources`. A backend that segfaults or calls
`os._exit` kills only its own harness worker (started by the Dask worker, which runs no plugin
code itself), so nothing is retried anywhere and every other backend's cells pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import cli

pytest.importorskip("distributed")
TESTS = Path(__file__).parent
CRASHERS = {
    "calls-os-exit": "broken_backends.unruly:calls_os_exit",
    "segfaults": "broken_backends.unruly:segfaults",
    "calls-sys-exit": "broken_backends.unruly:calls_sys_exit",
}
BACKENDS = ("numpy", *CRASHERS)
CASES = ("task2-grad-batch-sum", "task3-train")


@pytest.fixture
def cluster(install_plugins, tmp_path):
    """A scheduler and two single-threaded workers: one takes the crashing backends (by
    `--resources`), the other numpy's; allowed-failures=0, as the README says to start it."""
    install_plugins(CRASHERS)
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        pytest.skip("no `dask` command (distributed's CLI)")
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    }
    address_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "cluster.log", "wb")  # noqa: SIM115 (closed below)
    common = {"env": environment, "stdout": log, "stderr": log, "cwd": tmp_path}
    scheduler = [dask, "scheduler", "--port", "0", "--no-dashboard"]
    worker = [dask, "worker", "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
    where = ["--scheduler-file", str(address_file)]
    started = [subprocess.Popen([*scheduler, *where], **common)]
    try:
        _wait_for(address_file)
        for resources in (" ".join(f"{name}=1" for name in CRASHERS), "numpy=1"):
            started.append(subprocess.Popen([*worker, *where, "--resources", resources], **common))
        address = json.loads(address_file.read_text())["address"]
        _wait_for_workers(address, 2)
        yield address
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def _wait_for(path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().strip()):
        if time.monotonic() > deadline:
            pytest.fail(f"the scheduler wrote no {path.name} in {seconds} s")
        time.sleep(0.2)


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=60)


def run(args, tmp_path, name):
    out = tmp_path / f"{name}.json"
    base = ["run", "--dtype", "float64", "--no-gradcheck"]
    base += [f"--case={case}" for case in CASES] + [f"--backend={b}" for b in BACKENDS]
    code = cli.main([*base, "--json", str(out), *args])
    doc = json.loads(out.read_text())
    doc.pop("environment")  # the command line and the times differ from run to run
    for cell in doc["cells"]:
        cell.pop("seconds")
    return code, doc


def test_a_real_cluster_gives_the_local_json_and_contains_crashes(cluster, tmp_path, capsys):
    code, remote = run(["--scheduler", cluster], tmp_path, "remote")
    local_code, local = run([], tmp_path, "local")
    assert code == local_code == 1
    cells = {(c["case"], c["backend"]): c for c in remote["cells"]}
    for case in CASES:
        assert cells[case, "numpy"]["status"] == "pass", cells[case, "numpy"]
        assert cells[case, "calls-os-exit"]["message"] == "the worker died: exit status 3"
        assert cells[case, "segfaults"]["message"] == "the worker died: killed by SIGSEGV"
        assert cells[case, "calls-sys-exit"]["message"] == "the backend called sys.exit(0)"
        assert {cells[case, name]["status"] for name in CRASHERS} == {"crashed"}
    for doc in (remote, local):
        for cell in doc["cells"]:
            cell["output"] = ""  # the fault handler's stack trace names the process's files
    assert remote["cells"] == local["cells"]
