"""The coordinator's side of a worker process: start it, send a call, time it, end it.

A worker is `python -m harness.worker_main`, started by the coordinator in a process group
of its own (`start_new_session`), with two pipes for requests and replies (plain data, see
`harness.wire`) and its stdout and stderr sent to a file that the coordinator reads back after
each call: a plugin's prints never reach the report, and each call's output is kept with it.
A call past its limit, or a worker that dies, sends a reply that does not parse, or exits,
ends that worker and its whole process group (children the plugin started included); the
next call starts a fresh one. A clean run asks each worker to exit, waits for it, then ends
whatever it left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from harness import wire

OUTPUT_LIMIT = 16 * 1024
"""Bytes of a call's captured stdout and stderr that are kept: the first and last halves."""

EXIT_WAIT = 10.0
"""Seconds a worker asked to exit may take before its process group is killed."""


class BackendFault(Exception):
    """A backend call that ended without a result: the message says how, in one line."""

    status = "crashed"


class WorkerCrashed(BackendFault):
    """The worker died, or the backend ended it (sys.exit, KeyboardInterrupt, MemoryError)."""


class CellTimeout(BackendFault):
    """The call ran past its limit; its worker was ended."""

    status = "timeout"


class WorkerProcess:
    """One worker process and its pipes; one call at a time."""

    def __init__(self, environment: dict[str, str] | None = None) -> None:
        request_read, self._requests = os.pipe()
        self._replies, reply_write = os.pipe()
        handle, log_path = tempfile.mkstemp(prefix="xp-harness-worker-", suffix=".log")
        os.close(handle)
        try:
            with open(log_path, "ab") as log:  # O_APPEND: the worker writes at the end
                self.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "harness.worker_main",
                        str(request_read),
                        str(reply_write),
                    ],
                    pass_fds=(request_read, reply_write),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    env=environment or worker_environment(),
                )
            self._log = open(log_path, "rb")  # noqa: SIM115 (closed in end())
        finally:
            os.unlink(log_path)
            os.close(request_read)
            os.close(reply_write)
        self.output = ""
        """What the worker printed during the last call (capped; see OUTPUT_LIMIT)."""

    def call(self, message: dict, limit: float | None) -> Any:
        """Send one request and return the reply, or raise a BackendFault (the worker ended)."""
        start = self._log.seek(0, os.SEEK_END)
        deadline = None if limit is None else time.monotonic() + limit
        try:
            wire.write(self._requests, message)
            reply = wire.read(self._replies, deadline)
        except TimeoutError:
            self._take_output(start)
            self.end(kill=True)
            raise CellTimeout(f"ran past the {limit:g} s limit; its worker was ended") from None
        except (BrokenPipeError, EOFError):
            status = self._exit_status()
            self._take_output(start)
            self.end(kill=True)
            raise WorkerCrashed(f"the worker died: {exit_reason(status)}") from None
        except wire.WireError as exc:
            self._take_output(start)
            self.end(kill=True)
            raise WorkerCrashed(
                f"the worker sent a malformed reply ({exc}); it was ended"
            ) from None
        self._take_output(start)
        return reply

    def _take_output(self, start: int) -> None:
        self._log.seek(start)
        data = self._log.read()
        if len(data) > OUTPUT_LIMIT:
            half = OUTPUT_LIMIT // 2
            cut = len(data) - OUTPUT_LIMIT
            data = data[:half] + f"\n[... {cut} bytes left out ...]\n".encode() + data[-half:]
        self.output = data.decode("utf-8", errors="replace")

    def _exit_status(self) -> int | None:
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def end(self, kill: bool = False) -> None:
        """Ask the worker to exit (or kill it), then end every process left in its group."""
        if not kill and self.alive:
            try:
                wire.write(self._requests, {"call": "exit"})
                self.process.wait(timeout=EXIT_WAIT)
            except (OSError, subprocess.TimeoutExpired):
                pass
        # the group is gone when the worker exited and left no child behind
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for fd in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._log.close()


def worker_environment() -> dict[str, str]:
    """This process's environment, with its import path: plugins it can find, the worker finds."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    environment.setdefault("PYTHONUNBUFFERED", "1")
    return environment


MAX_DEATHS = 3
"""A backend whose worker died this many times gets its remaining calls `crashed` at once,
without a new worker (a plugin that segfaults on import would otherwise cost a start each)."""


class ProcessExecutor:
    """One worker process per backend, started on first use and reused for its calls."""

    def __init__(self, max_deaths: int = MAX_DEATHS) -> None:
        self.max_deaths = max_deaths
        self._workers: dict[str, WorkerProcess] = {}
        self._deaths: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._closed = False

    def call(self, backend: str, message: dict, limit: float | None) -> tuple[Any, str]:
        """(reply, captured output) of one call in `backend`'s worker."""
        with self._lock:
            lock = self._locks.setdefault(backend, threading.Lock())
        with lock:
            worker = self._worker(backend)
            try:
                reply = worker.call({**message, "backend": backend}, limit)
            except BackendFault:
                self._buried(backend)
                raise
            output = worker.output
            if not worker.alive or (isinstance(reply, dict) and reply.get("exit")):
                self._buried(backend)  # the plugin ended it (sys.exit): a death like any other
            return reply, output

    def _worker(self, backend: str) -> WorkerProcess:
        if self._closed:
            raise WorkerCrashed("the run is ending; no new worker is started")
        deaths = self._deaths.get(backend, 0)
        if deaths >= self.max_deaths:
            raise WorkerCrashed(f"its worker died {deaths} times; no new worker is started for it")
        worker = self._workers.get(backend)
        if worker is None or not worker.alive:
            worker = self._workers[backend] = WorkerProcess()
        return worker

    def _buried(self, backend: str, count: bool = True) -> None:
        """The worker is gone (or must go): end its group, and count the death."""
        worker = self._workers.pop(backend, None)
        if worker is not None:
            worker.end(kill=True)
        if count:
            self._deaths[backend] = self._deaths.get(backend, 0) + 1

    def close(self, kill: bool = False) -> None:
        with self._lock:
            self._closed = True
            workers, self._workers = list(self._workers.values()), {}
        threads = [threading.Thread(target=w.end, args=(kill,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def exit_reason(code: int | None) -> str:
    """`killed by SIGSEGV` or `exit status 3`."""
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
