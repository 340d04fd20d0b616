"""The harness's pytest plugin (entry point `harness` in the `pytest11` group).

It gives other projects the `xp` / `xp_dtype` fixtures and the `skip_xp` / `xfail_xp` markers,
and backend authors the conformance suite (`pytest --pyargs harness.conformance
--harness-backend NAME`). It is inert unless used: loading it imports nothing but pytest, and
each hook returns at once unless a test asks for a harness fixture or a `--harness-*` option
is given. Everything heavier is imported inside the hook or fixture that needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

CELL_ARGUMENTS = {"harness_cell": False, "harness_gradient": True}
"""Parametrised arguments of the conformance tests: False for cells, True for gradient runs."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "xp-harness: backends, conformance suite, xp fixture")
    add = group.addoption
    add(
        "--harness-backend",
        action="append",
        metavar="NAME",
        help="backend to run (for `xp`: backend or library); repeat or comma-separate; "
        "default $HARNESS_BACKENDS, else every registered one",
    )
    add(
        "--harness-dtype",
        action="append",
        metavar="DTYPE",
        help="dtype to run (float32, float64); default both",
    )
    add("--harness-cases", metavar="DIR", help="case files to run (default: the built-in cases)")
    add(
        "--harness-xfails", metavar="FILE", help="known failures: one test id and its reason a line"
    )
    add(
        "--harness-skips",
        metavar="FILE",
        help="tests not to run (too slow, say): one test id and its reason a line, as xfails",
    )
    add(
        "--harness-report",
        metavar="PATH",
        help="write the scoreboard to PATH.md, PATH.json and PATH.html",
    )
    add(
        "--harness-no-isolate",
        action="store_true",
        help="run backend code in this process (for pdb); no crash containment or time limit",
    )
    add(
        "--harness-timeout",
        type=float,
        metavar="SECONDS",
        help="time limit per cell (default: harness.runner.DEFAULT_TIMEOUT)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if not any(m.split(":")[0].strip() == "slow" for m in config.getini("markers")):
        config.addinivalue_line("markers", "slow: a backend whose first step costs seconds")
    report = config.getoption("harness_report")
    if report and not hasattr(config, "workerinput"):  # xdist: the controller writes it
        from harness.conformance.scoreboard import Scoreboard, report_paths

        if not (folder := report_paths(report)[0].parent).is_dir():
            raise pytest.UsageError(f"--harness-report {report}: directory {folder} does not exist")

        config.pluginmanager.register(Scoreboard(report), "harness-scoreboard")


MARKERS = (
    "skip_xp(*libraries, reason): skip this test's `xp` parameter for these array libraries",
    "xfail_xp(*libraries, reason, strict=None): expect this test to fail on these libraries",
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    try:
        _parametrize(metafunc)
    except pytest.UsageError as exc:  # raised after collection: one line, exit status 4
        metafunc.config.stash.setdefault(_USAGE, []).append(exc)


def _parametrize(metafunc: pytest.Metafunc) -> None:
    wanted = metafunc.fixturenames
    if "xp" in wanted and _ours(metafunc, "xp"):
        metafunc.parametrize("xp", list(_xp_state(metafunc.config)), indirect=True)
    if "xp_dtype" in wanted and _ours(metafunc, "xp_dtype"):
        from harness.conformance import selection

        metafunc.parametrize("xp_dtype", selection.dtypes(metafunc.config), indirect=True)
    for argument, gradients in CELL_ARGUMENTS.items():
        if argument in wanted:
            from harness.conformance.session import state

            metafunc.parametrize(argument, state(metafunc.config).cell_specs(gradients))
    if "harness_protocol" in wanted:
        from harness.conformance.session import state

        metafunc.parametrize("harness_protocol", state(metafunc.config).protocol_specs())


def _ours(metafunc: pytest.Metafunc, name: str) -> bool:
    """True unless the project has an `xp` of its own (SciPy and array-api-extra do): a
    fixture of that name closer to the test, or a parametrize mark naming it."""
    definitions = getattr(metafunc, "_arg2fixturedefs", {}).get(name)  # pytest keeps it private
    if not definitions or definitions[-1].func.__module__ != __name__:
        return False
    marks = metafunc.definition.iter_markers("parametrize")
    return not any(name in _argnames(mark) for mark in marks)


def _argnames(mark: pytest.Mark) -> list[str]:
    names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
    return [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _USAGE in config.stash:
        raise config.stash[_USAGE][0]
    if _XP in config.stash:
        _apply_xp_markers(items)
    for kind, skip in (("xfails", False), ("skips", True)):
        if path := config.getoption(f"harness_{kind}"):
            from harness.conformance import xfails

            entries = xfails.load(path, f"--harness-{kind}")
            config.stash.setdefault(_LISTED, {})[kind] = entries
            xfails.apply(entries, items, skip=skip)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if _LISTED not in config.stash:
        return
    from harness.conformance import xfails

    for kind, entries in config.stash.get(_LISTED, {}).items():
        for entry in xfails.unmatched(entries):
            terminalreporter.write_line(
                f"harness {kind} line {entry.line}: {entry.test_id!r} matched no test"
            )


def pytest_sessionfinish(session: pytest.Session) -> None:
    import sys

    if runners := sys.modules.get("harness.conformance.session"):  # else none was started
        runners.close(session.config)


@pytest.fixture(scope="session")
def harness_runner(request: pytest.FixtureRequest):
    """The session's CellRunner: every backend call of the harness's tests goes through it."""
    from harness.conformance.session import state

    return state(request.config).runner()


# ---- xp: one parameter per installed array library, numerics scoped for the dtype ----

_XP = pytest.StashKey[dict]()
_LISTED = pytest.StashKey[dict]()
"""The entries of the xfails and skips files, by kind, to name the unmatched ones at the end."""
_USAGE = pytest.StashKey[list]()


def _xp_state(config: pytest.Config) -> dict[str, list[Any]]:
    """{library: its backends, best first}, for the libraries selected in this session."""
    if _XP not in config.stash:
        from harness import plugins
        from harness.conformance import selection

        points = plugins.discover()
        config.stash[_XP] = selection.libraries(points, selection.requested_backends(config))
    return config.stash[_XP]


@pytest.fixture
def xp(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The array library's Array-API namespace, with its numerics set for `xp_dtype`.

    Each library is reached through its first available backend, and the namespace is that
    backend's `namespace()` where it has one; without `xp_dtype` in the test the library keeps
    its own defaults (JAX: float32). By default the libraries are this package's own backends';
    an installed plugin's library runs when named (`--harness-backend`, `HARNESS_BACKENDS`).
    """
    from contextlib import nullcontext

    library = request.param
    dtype = getattr(request.node, "callspec", None) and request.node.callspec.params.get("xp_dtype")
    backend = _first_available(library, _xp_state(request.config)[library])
    if dtype and dtype not in backend.dtypes:
        pytest.skip(f"{library}: its backend {backend.name} has no {dtype}")
    with backend.numerics(dtype) if dtype else nullcontext():
        yield _namespace(backend, dtype or backend.dtypes[0])


@pytest.fixture
def xp_dtype(request: pytest.FixtureRequest, xp: Any) -> Any:
    """The floating dtype this test runs in, as `xp`'s own dtype object (`xp.float64`)."""
    return getattr(xp, request.param)


def _first_available(library: str, candidates: list[Any]) -> Any:
    from harness import plugins

    reasons = []
    for backend in candidates:
        status = plugins.availability(backend)
        if status.available:
            return backend
        reasons.append(f"{backend.name}: {status.reason}")
    pytest.skip(f"{library} unavailable ({'; '.join(reasons)})")


def _namespace(backend: Any, dtype: str) -> Any:
    """The plugin's own `namespace()` where it has one (paddle's tensors, say, are not types
    array_api_compat knows); else the namespace of its arrays, as array_api_compat resolves it."""
    if callable(getattr(backend, "namespace", None)):
        return backend.namespace()
    import numpy as np
    from array_api_compat import array_namespace

    return array_namespace(backend.from_numpy(np.zeros(1), dtype))


def _apply_xp_markers(items: list[pytest.Item]) -> None:
    """`skip_xp` / `xfail_xp` become skip / xfail on the matching `xp` parameters."""
    from harness.conformance.selection import normalise_library

    for item in items:
        library = getattr(item, "callspec", None) and item.callspec.params.get("xp")
        if not library:
            continue
        for name, make in (("skip_xp", pytest.mark.skip), ("xfail_xp", pytest.mark.xfail)):
            for mark in item.iter_markers(name):
                reason = mark.kwargs.get("reason")
                if not reason:
                    raise pytest.UsageError(f"{item.nodeid}: @{name}(...) needs reason=")
                if library in {normalise_library(a) for a in mark.args}:
                    extra = {k: v for k, v in mark.kwargs.items() if k == "strict"}
                    item.add_marker(make(reason=f"{library}: {reason}", **extra))
