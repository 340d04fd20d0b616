"""`harness run --scheduler`: the same cells, containment and JSON on a Dask cluster."""

from __future__ import annotations

import json

import pytest

from harness import cli

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

BACKENDS = ("numpy", "calls-os-exit", "calls-sys-exit")


@pytest.fixture
def cluster(install_plugins):
    """A LocalCluster of two single-threaded worker processes; a crash is not retried."""
    install_plugins(
        {
            "calls-os-exit": "broken_backends.unruly:calls_os_exit",
            "calls-sys-exit": "broken_backends.unruly:calls_sys_exit",
        }
    )
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
    ):
        yield local.scheduler_address


def run(args, tmp_path, name):
    out = tmp_path / f"{name}.json"
    base = ["run", "--case", "task2-grad-batch-sum", "--dtype", "float64", "--no-gradcheck"]
    for backend in BACKENDS:
        base += ["--backend", backend]
    code = cli.main([*base, "--json", str(out), *args])
    doc = json.loads(out.read_text())
    doc.pop("environment")  # the command line and the times differ from run to run
    for cell in doc["cells"]:
        cell.pop("seconds")
    return code, doc


def test_the_cluster_gives_the_local_json_and_contains_a_crash(cluster, tmp_path, capsys):
    code, remote = run(["--scheduler", cluster], tmp_path, "remote")
    local_code, local = run([], tmp_path, "local")
    assert code == local_code == 1
    status = {c["backend"]: c for c in remote["cells"]}
    assert status["numpy"]["status"] == "pass"
    assert status["calls-os-exit"]["status"] == "crashed"
    assert "the Dask worker running it died" in status["calls-os-exit"]["message"]
    assert status["calls-sys-exit"]["message"] == "the backend called sys.exit(0)"
    for doc in (remote, local):  # only the crash's wording depends on the engine
        for cell in doc["cells"]:
            if cell["backend"] == "calls-os-exit":
                cell["message"] = "crashed"
    assert remote == local
