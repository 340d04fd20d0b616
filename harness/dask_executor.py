"""Cells on a Dask distributed cluster: `harness run --scheduler tcp://host:8786`.

Each backend call is one Dask task, `relay`, which runs it in a harness worker process of the
Dask worker's own machine (`harness.processes`, one per backend, reused) and hands back the
reply as a wire frame (`harness.wire`). So the Dask worker process never imports a plugin:
a backend that segfaults or calls `os._exit` kills its own harness worker, not the Dask
worker, nothing is retried on another backend's worker, and the reply the coordinator reads
is plain data whatever the plugin did. A call past its limit is ended on the Dask worker's
machine and comes back `timeout`. A worker started with `--resources "torch=1 torch-manual=1"`
takes the cells of the backends it names, and only it.
"""

from __future__ import annotations

import threading

from harness import wire
from harness.processes import BackendFault, CellTimeout, ProcessExecutor, WorkerCrashed

MARGIN = 30.0
"""Seconds the coordinator waits beyond a call's limit before it gives the task up."""

_LOCAL: dict[int, ProcessExecutor] = {}
_LOCAL_LOCK = threading.Lock()


def relay(backend: str, frame: bytes, limit: float | None, max_deaths: int) -> bytes:
    """Run on a Dask worker: one call in this machine's harness worker for the backend."""
    with _LOCAL_LOCK:
        executor = _LOCAL.setdefault(max_deaths, ProcessExecutor(max_deaths))
    try:
        reply, output = executor.call(backend, wire.unpack(frame), limit)
    except BackendFault as exc:
        status = exc.status
        reply, output = {"ok": False, "fault": {"status": status, "message": str(exc)}}, ""
    return wire.pack({"reply": reply, "output": output})


class DaskExecutor:
    def __init__(self, address: str, max_deaths: int) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise RuntimeError(
                f"--scheduler needs dask.distributed ({exc}); pip install distributed"
            ) from None
        self.client = Client(address, timeout="30s")
        self.max_deaths = max_deaths

    def _resources(self, backend: str) -> dict[str, float] | None:
        """Route a backend's cells to the workers that advertise it, if any does."""
        workers = self.client.scheduler_info().get("workers", {})
        if any(backend in (w.get("resources") or {}) for w in workers.values()):
            return {backend: 1}
        return None

    def call(self, backend: str, message: dict, limit: float | None):
        from distributed import KilledWorker

        frame = wire.pack({**message, "backend": backend})
        future = self.client.submit(
            relay,
            backend,
            frame,
            limit,
            self.max_deaths,
            pure=False,
            resources=self._resources(backend),
        )
        try:
            answer = wire.unpack(future.result(timeout=None if limit is None else limit + MARGIN))
        except KilledWorker as exc:
            raise WorkerCrashed(f"the Dask worker running it died ({exc})") from None
        except TimeoutError:
            future.cancel()
            raise CellTimeout(f"ran past the {limit:g} s limit on the cluster") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("output"), str):
            raise WorkerCrashed("the Dask worker sent a malformed reply")
        return answer.get("reply"), answer["output"]

    def close(self, kill: bool = False) -> None:
        self.client.close()
