"""The calls a worker answers: the only place where plugin code runs.

Each request names a backend by its registered (entry-point) name and a call: `describe`,
`run`, `steps`, `probe` or `slow`. The worker loads the plugin once, runs the call through
`harness.driver` (or the conformance probes), and replies with plain data (`harness.wire`):
`{"ok": true, "value": ...}`, or `{"ok": false, "error": {"kind", "type", "message"}}` when the
backend raised, or `{"ok": false, "fault": ..., "exit": true}` when the plugin tried to end the
process (sys.exit, KeyboardInterrupt, MemoryError), after which the worker exits. The texts are
taken defensively (an exception whose `__str__` raises is itself reported) and judged by no
one here: the coordinator validates and escapes every field it receives.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from harness import driver

_BACKENDS: dict[str, Any] = {}
_CASES: dict[tuple[str, str], Any] = {}


def serve(request: dict, load=None, loaded=None, contain_interrupt: bool = True) -> dict:
    """Answer one request; never raises for anything the plugin does (but an interrupt when
    `contain_interrupt` is False: in the coordinator's own process, Ctrl-C is the user's).
    `load(name)` loads a plugin (default: by entry point) into `loaded` (default: this
    process's own cache)."""
    try:
        call = CALLS[request.get("call")]
        name = request.get("backend")
        cache = _BACKENDS if loaded is None else loaded
        backend = None if call is slow_flags else _backend(name, load, cache)
        return {"ok": True, "value": call(backend, **request.get("args", {}))}
    except SystemExit as exc:
        return _fault(f"the backend called sys.exit({_repr(exc.code)})")
    except MemoryError as exc:
        return _fault(f"MemoryError: {_text(exc)}")
    except KeyboardInterrupt:
        if not contain_interrupt:
            raise
        return _fault("the backend raised KeyboardInterrupt")
    except BaseException as exc:
        return {"ok": False, "error": describe_exception(exc)}


def _fault(message: str) -> dict:
    return {"ok": False, "fault": {"status": "crashed", "message": message}, "exit": True}


def describe_exception(exc: BaseException) -> dict[str, str]:
    """Kind, qualified type name and first message line, each taken without trusting `exc`."""
    kind = "error"
    if isinstance(exc, driver.InRun):
        return {**describe_exception(exc.error), "run": exc.run}
    if isinstance(exc, driver.BadStepResult):
        kind = "bad-result"
    elif isinstance(exc, driver.PluginError):
        kind = "plugin"
    elif isinstance(exc, ValueError) and "read-only" in _text(exc):
        kind = "wrote-input"
    return {"kind": kind, "type": _type_name(exc), "message": _text(exc)}


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    try:
        module = str(kind.__module__)
        name = str(kind.__qualname__)
    except Exception:
        return "?"
    return name if module == "builtins" else f"{module}.{name}"


def _text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException as inner:
        return f"<the exception's message could not be read: __str__ raised {_type_name(inner)}>"
    return (text.strip().splitlines() or [""])[0][:2000]


def _repr(value: Any) -> str:
    try:
        return repr(value)[:200]
    except BaseException:
        return "<unprintable>"


def _backend(name: str, load, cache: dict):
    if name not in cache:
        from harness import plugins

        cache[name] = (load or plugins.load)(name)
    return cache[name]


def _case(source):
    """The case, loaded once per worker from the text the coordinator sent, arrays read-only
    (in the coordinator's own process, with --no-isolate, the Case itself may be handed)."""
    from harness import cases

    if isinstance(source, cases.Case):
        return source
    key = (source["path"], hashlib.sha256(source["text"].encode()).hexdigest())
    if key not in _CASES:
        case = cases.load(_local_path(source))
        for array in [*case.params.values(), *(a for r in case.runs for a in (r.x, r.y))]:
            array.flags.writeable = False
        _CASES[key] = case
    return _CASES[key]


def _local_path(source: dict) -> Path:
    """The file itself when this machine has it unchanged, else a copy of the text."""
    path = Path(source["path"])
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == source["text"]:
            return path
    except OSError:
        pass
    digest = hashlib.sha256(source["text"].encode()).hexdigest()[:16]
    copy = Path(tempfile.gettempdir()) / f"xp-harness-cases-{digest}" / path.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(source["text"], encoding="utf-8")
    return copy


def describe(backend, name: str) -> dict[str, Any]:
    """What the coordinator needs to know of the backend, every plugin call guarded: a wrong
    type or an exception is listed in `problems` (the backend's error), never raised."""
    from harness import plugins
    from harness.protocol import DTYPES, Availability

    record: dict[str, Any] = {"name": name, "problems": []}
    problems = record["problems"]
    for key, (attribute, default) in _ATTRIBUTES.items():
        try:
            record[key] = getattr(backend, attribute, default)
        except Exception as exc:
            problems.append(f"reading {attribute} raised {_type_name(exc)}: {_text(exc)}")
            record[key] = default
    if record["declared"] != name:
        problems.append(
            f"the plugin registered as {name!r} calls itself {_repr(record['declared'])}"
        )
    if not isinstance(record["library"], str) or not record["library"]:
        problems.append(f"library is {_repr(record['library'])}, expected a non-empty str")
    dtypes = record["dtypes"]
    listed = isinstance(dtypes, list | tuple) and all(isinstance(d, str) for d in dtypes)
    if not listed or not set(dtypes) <= set(DTYPES):
        problems.append(f"dtypes is {_repr(dtypes)}, expected a tuple of {', '.join(DTYPES)}")
        record["dtypes"] = []
    record["strategy"] = plugins.strategy(backend)
    try:
        with plugins.recording(name):
            status = backend.availability()
    except Exception as exc:
        problems.append(f"availability() raised {_type_name(exc)}: {_text(exc)}")
        status = Availability(False)
    if not isinstance(status, Availability):
        kind = type(status).__name__
        problems.append(f"availability() returned {kind}, expected harness.protocol.Availability")
        status = Availability(False)
    record.update(
        available=bool(status.available),
        reason=status.reason,
        version=status.version,
        warnings=[*plugins.warnings_of(name), *status.warnings],
    )
    return _plain_record(record)


_ATTRIBUTES = {
    "declared": ("name", None),
    "library": ("library", "?"),
    "distribution": ("distribution", None),
    "dtypes": ("dtypes", ()),
    "slow": ("slow", False),
}
"""Record key -> (the backend's attribute, its default when the plugin has none)."""


def _plain_record(record: dict) -> dict:
    """Only JSON-able leaves: a plugin's attribute of another type is shown by its type."""
    out = {}
    for key, value in record.items():
        if value is None or isinstance(value, str | bool | int | float):
            out[key] = value
        elif isinstance(value, list | tuple):
            out[key] = [v if isinstance(v, str) else f"<{type(v).__name__}>" for v in value]
        else:
            out[key] = f"<{type(value).__name__}>"
    return out


def run(backend, source: dict, dtype: str) -> dict:
    return driver.run_case(backend, _case(source), dtype)


def steps(backend, source: dict, dtype: str, trace: bool, items: list) -> list[dict]:
    pairs = [(item["params"], item["batch"]) for item in items]
    return driver.run_steps(backend, _case(source).network, dtype, trace, pairs)


def probe(backend, check: str, dtype: str) -> dict:
    """A conformance probe (harness.conformance.checks): observations, judged elsewhere."""
    from harness.conformance import checks

    return checks.PROBES[check](backend, dtype)


def slow_flags(_, names: list[str]) -> dict[str, bool]:
    """Which of the named backends declare `slow`, read from the plugin objects without
    importing any array library or starting their workers (the runner's scout asks)."""
    flags = {}
    for name in names:
        try:
            flags[name] = bool(getattr(_backend(name, None, _BACKENDS), "slow", False))
        except Exception:
            flags[name] = False
    return flags


CALLS = {"describe": describe, "run": run, "steps": steps, "probe": probe, "slow": slow_flags}
