"""Cells on a Dask distributed cluster: `harness run --scheduler tcp://host:8786`.

Each backend call is one Dask task running the same worker-side function as a local worker
(`harness.workers.invoke`), so containment and the JSON are the same. A Dask worker process
that dies running a cell becomes a `crashed` cell (Dask's `KilledWorker`; start the scheduler
with `DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0` so that a crash is not retried on
other workers first). A cell past its limit is `timeout`, and the worker running it is
restarted. A worker started with `--resources "torch=1 torch-manual=1"` takes the cells of
the backends it names, and only it: so torch cells go to the CUDA box and JAX to another.
"""

from __future__ import annotations

from harness.workers import CellTimeout, WorkerCrashed, invoke


class DaskExecutor:
    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise RuntimeError(
                f"--scheduler needs dask.distributed ({exc}); pip install distributed"
            ) from None
        self.client = Client(address, timeout="30s")

    def _resources(self, backend: str) -> dict[str, float] | None:
        """Route a backend's cells to the workers that advertise it, if any does."""
        workers = self.client.scheduler_info().get("workers", {})
        if any(backend in (w.get("resources") or {}) for w in workers.values()):
            return {backend: 1}
        return None

    def call(self, backend: str, function, args: tuple, limit: float | None):
        from distributed import KilledWorker

        future = self.client.submit(
            invoke, backend, function, args, pure=False, resources=self._resources(backend)
        )
        try:
            return future.result(timeout=limit)
        except KilledWorker as exc:
            raise WorkerCrashed(f"the Dask worker running it died ({exc})") from None
        except TimeoutError:
            if future.status != "pending":
                raise  # the backend's own TimeoutError: an error of the cell
            self._restart_worker_of(future)
            raise CellTimeout(f"ran past the {limit:g} s limit; its worker was restarted") from None

    def _restart_worker_of(self, future) -> None:
        busy = [w for w, keys in self.client.processing().items() if future.key in keys]
        future.cancel()
        if busy:
            self.client.restart_workers(busy)

    def close(self, kill: bool = False) -> None:
        self.client.close()
