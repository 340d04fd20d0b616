"""The coordinator's view of one backend: its calls, and what their replies may hold.

A `Channel` sends a call to wherever the backend runs (its worker process, a Dask worker, or
this process with --no-isolate) and checks the reply before anything else reads it: a value of
the expected structure (named base NumPy arrays of a numeric dtype, numbers, strings), an
error (the backend raised: `BackendError`), or a fault (the worker died, ran out of time, or
the plugin ended it: `BackendFault`). Every text a worker sends is escaped (no terminal
control characters) and capped before it is kept. A reply of another shape is the backend's
error. So whatever a plugin does in its own process, what reaches the judge is data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness import wire
from harness.case_text import printable
from harness.processes import BackendFault, CellTimeout, WorkerCrashed

TEXT_LIMIT = 500
"""Characters of one message from a worker that are kept."""


def text(value: Any, limit: int = TEXT_LIMIT) -> str:
    """A worker's text, escaped for a terminal and capped; anything but a str is shown as '?'."""
    if not isinstance(value, str):
        return "?"
    value = printable(value)
    return value if len(value) <= limit else value[:limit] + "..."


class BackendError(Exception):
    """The backend raised, or returned what the protocol does not allow; `kind` is "error",
    "plugin" (a plugin call returned the wrong type), "bad-result" (a step's tensors) or
    "wrote-input"; `run` names the case's run where it happened, if known."""

    def __init__(self, kind: str, type_name: str, message: str, run: str = "") -> None:
        super().__init__(kind, type_name, message, run)
        self.kind, self.type_name, self.message, self.run = kind, type_name, message, run

    def __str__(self) -> str:
        short = self.type_name.rsplit(".", 1)[-1]
        return f"{short}: {self.message}" if self.message else short


@dataclass(frozen=True)
class BackendInfo:
    """What the coordinator knows of a backend, from its worker's `describe`, validated."""

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
    error: str = ""
    """The plugin broke the protocol (a wrong type, a name that is not its registered one):
    its cells are `error` with this message."""
    warnings: tuple[str, ...] = ()
    distribution: str = ""
    """The distribution whose version is `version` (default: the library)."""

    @classmethod
    def faulty(cls, name: str, fault: BackendFault) -> BackendInfo:
        return cls(name, "?", "autograd", ("float32", "float64"), False, False, str(fault),
                   fault=fault.status)  # fmt: skip

    @classmethod
    def broken(cls, name: str, message: str) -> BackendInfo:
        return cls(name, "?", "autograd", ("float32", "float64"), False, False, message,
                   error=message)  # fmt: skip

    @classmethod
    def from_record(cls, name: str, record: Any) -> BackendInfo:
        """The worker's description, every field checked; a wrong one is the backend's error."""
        if not isinstance(record, dict):
            return cls.broken(name, "describe: the worker's reply is not a record")
        problems = record.get("problems")
        problems = [text(p) for p in problems] if isinstance(problems, list) else ["?"]
        dtypes = record.get("dtypes")
        dtypes = (
            tuple(d for d in dtypes if d in ("float32", "float64"))
            if isinstance(dtypes, list)
            else ()
        )
        library = text(record.get("library"), 60)
        distribution = record.get("distribution")
        info = cls(
            name,
            library,
            "manual" if record.get("strategy") == "manual" else "autograd",
            dtypes,
            record.get("slow") is True,
            record.get("available") is True,
            text(record.get("reason")),
            text(record.get("version"), 60),
            warnings=tuple(text(w) for w in record.get("warnings") or [] if isinstance(w, str)),
            distribution=text(distribution, 60) if distribution is not None else library,
        )
        if problems:
            return cls.broken(name, problems[0])
        return info

    def skip_reason(self) -> str:
        return f"unavailable: {self.reason}"


class Channel:
    """One backend's calls through an executor; texts the worker printed are kept in `output`."""

    def __init__(self, executor, name: str, limit: float | None = None, described=None) -> None:
        self.executor, self.name, self.limit = executor, name, limit
        self.output: list[str] = []
        self._described = described
        """A function giving the backend's BackendInfo, when the caller keeps it (the runner)."""

    def call(self, call: str, **args: Any) -> Any:
        reply, output = self.executor.call(self.name, {"call": call, "args": args}, self.limit)
        if output:
            self.output.append(printable(output, keep="\n\t"))
        return value_of(reply)

    def info(self) -> BackendInfo:
        if self._described is not None:
            return self._described()
        try:
            return BackendInfo.from_record(self.name, self.call("describe", name=self.name))
        except BackendError as exc:
            return BackendInfo.broken(self.name, str(exc))

    def run(self, case, dtype: str) -> dict[str, dict[str, np.ndarray]]:
        """{run name: {tensor name: array}}: every run of the case, as its task says."""
        value = self.call("run", source=self.source(case), dtype=dtype)
        if not isinstance(value, dict):
            raise _malformed("run", "not a table of runs")
        return {run: _arrays(tensors, f"run {text(run)}") for run, tensors in value.items()}

    def steps(self, case, dtype: str, trace: bool, items) -> list[dict]:
        """One fresh step per (params, batch): loss, output, grads and trace of each."""
        asked = [{"params": dict(params), "batch": dict(batch)} for params, batch in items]
        value = self.call("steps", source=self.source(case), dtype=dtype, trace=trace, items=asked)
        if not isinstance(value, list) or len(value) != len(asked):
            raise _malformed("steps", "not one result per step")
        return [_step(result) for result in value]

    def source(self, case) -> Any:
        """What the worker loads the case from: its file's path and text; in this process,
        the Case itself (which may be one a test made, with no file behind it)."""
        return case if isinstance(self.executor, InProcessExecutor) else case_source(case.path)

    def probe(self, check: str, dtype: str) -> dict:
        value = self.call("probe", check=check, dtype=dtype)
        if not isinstance(value, dict):
            raise _malformed("probe", "not a record")
        return value


def case_source(path) -> dict[str, str]:
    from pathlib import Path

    path = Path(path).resolve()
    return {"path": str(path), "text": path.read_text(encoding="utf-8")}


def value_of(reply: Any) -> Any:
    """The reply's value, or its error or fault raised."""
    if not isinstance(reply, dict):
        raise _malformed("reply", "not a record")
    if reply.get("ok") is True:
        return reply.get("value")
    if isinstance(fault := reply.get("fault"), dict):
        error = CellTimeout if fault.get("status") == "timeout" else WorkerCrashed
        raise error(text(fault.get("message")))
    error = reply.get("error")
    if not isinstance(error, dict):
        raise _malformed("reply", "neither a value nor an error")
    kind = error.get("kind") if error.get("kind") in _KINDS else "error"
    run = text(error.get("run")) if error.get("run") is not None else ""
    raise BackendError(kind, text(error.get("type"), 120), text(error.get("message")), run)


_KINDS = ("error", "plugin", "bad-result", "wrote-input")


def _malformed(call: str, problem: str) -> BackendError:
    return BackendError("plugin", "protocol", f"the worker's {call} reply is {problem}")


def _arrays(value: Any, where: str) -> dict[str, np.ndarray]:
    if not isinstance(value, dict):
        raise _malformed(where, "not a table of tensors")
    for name, array in value.items():
        if not isinstance(array, np.ndarray):
            raise _malformed(where, f"holding {text(name)} that is not an array")
    return value


def _step(result: Any) -> dict:
    if not isinstance(result, dict):
        raise _malformed("steps", "not a record per step")
    for name in ("loss", "output"):
        if not isinstance(result.get(name), np.ndarray):
            raise _malformed("steps", f"without a {name} array")
    return {
        "loss": result["loss"],
        "output": result["output"],
        "grads": _arrays(result.get("grads"), "steps' grads"),
        "trace": _arrays(result.get("trace"), "steps' trace"),
    }


class InProcessExecutor:
    """Calls in this process, for pdb (--no-isolate) and for backend objects handed directly:
    no containment of crashes or time, but the same plain-data replies (through the wire
    format, so that what a backend returns is checked the same way in every mode)."""

    def __init__(self, load=None) -> None:
        self._load, self._loaded = load, {}

    def call(self, backend: str, message: dict, limit: float | None) -> tuple[Any, str]:
        from harness import worker_calls

        request = {**message, "backend": backend}
        reply = worker_calls.serve(request, self._load, self._loaded, contain_interrupt=False)
        return wire.unpack(wire.pack(reply)), ""

    def close(self, kill: bool = False) -> None:
        pass


def local(backend) -> Channel:
    """A channel to a backend object in this process (tests, --no-isolate)."""
    return Channel(InProcessExecutor(load=lambda _: backend), str(getattr(backend, "name", "?")))
