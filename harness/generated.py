"""The fast step: the network's own step, traced once per input shape into straight-line code.

At homework size a step is a few dozen array calls, and the Python around them (a closure per
layer, dicts of saved values, the trace's bookkeeping) costs as much again. `harness.codegen`
runs the network's `manual_step` or `objective` once on recording arrays and writes what it did
as one flat function; here that function is compiled for a backend's namespace, once per shape
of x, and called with no more around it than a dict look-up. Composites stay one call each
(`kernels="call"`), so a namespace that carries a library's native kernels
(`composites.delegating`) runs them, as the network's own code does. The traced step (for
diagnosis) and the float64 reference keep running the network's code, and so does a network
whose code straight-line code cannot hold (a layer that draws its own random numbers, say).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.protocol import StepResult

Spelling = tuple[Any, dict[str, Any]] | None
"""(codegen target or its name, the names its code reads), e.g. ("torch", {"torch": torch}):
the generated code calls the library by its own spelling, no Array-API wrapper in between;
None: everything through the namespace ("xp")."""


def manual_step(network, dtype: str, xp: Any, spelling: Spelling = None) -> Callable:
    """`step(params, batch) -> StepResult`: forward and the hand-written backward, generated;
    the generated function builds the StepResult itself (one call less per step)."""
    from harness.codegen import TraceError, emit, namespace_globals, trace_manual

    def build(shape: tuple[int, ...]) -> Callable:
        try:
            program = trace_manual(network, shape, dtype, kernels="call")
        except TraceError:  # a layer straight-line code cannot hold (say, one that draws)
            return lambda params, batch: network.manual_step(xp, params, batch)
        order = _backward_order(network, shape, dtype)
        program.grads = {name: program.grads[name] for name in order}
        spelled = _spelled(spelling)
        source = emit(program, spelled.get("target", "xp"), "step", bound=True)
        body, _, returned = source.rstrip("\n").rpartition("\n    return ")
        scope = {**namespace_globals(xp), **spelled.get("scope", {}), "_StepResult": StepResult}
        where = f"<harness.generated manual {shape} {dtype}>"
        exec(compile(f"{body}\n    return _StepResult({returned})\n", where, "exec"), scope)
        return scope["step"]

    return by_shape(build)


def objective(network, dtype: str, xp: Any, spelling: Spelling = None) -> Callable:
    """`objective(params, batch) -> (loss, output)`, generated: what autograd differentiates."""
    from harness.codegen import TraceError, compile_program, trace_objective

    def build(shape: tuple[int, ...]) -> Callable:
        try:
            program = trace_objective(network, shape, dtype, kernels="call")
            return compile_program(program, xp, **_spelled(spelling))
        except TraceError:  # a layer straight-line code cannot hold (say, one that draws)
            return lambda params, batch: _objective(network, xp, params, batch)

    return by_shape(build)


def _backward_order(network, shape: tuple[int, ...], dtype: str) -> list[str]:
    """The gradients' names in the order the network's own step returns them (the order its
    backward reaches them, last layer first), so that the fast step's dict reads the same."""
    import numpy as np
    from array_api_compat import array_namespace

    from harness.codegen import placeholders

    params, batch = placeholders(network, shape, np.dtype(dtype).name)
    with np.errstate(all="ignore"):
        result = network.manual_step(array_namespace(np.zeros(0)), params, batch)
    return list(result.grads)


def _spelled(spelling: Spelling) -> dict:
    if spelling is None:
        return {}
    target, names = spelling
    return {"target": target, "scope": names}


def by_shape(build: Callable[[tuple[int, ...]], Callable]) -> Callable:
    """`f(params, batch)` that calls `build(x's shape)`'s function, built on first use."""
    built: dict[tuple[int, ...], Callable] = {}

    def call(params, batch):
        shape = batch["x"].shape
        function = built.get(shape)
        if function is None:
            function = built[shape] = build(tuple(int(n) for n in shape))
        return function(params, batch)

    return call


def _objective(network, xp, params, batch):
    value, (output, _) = network.objective(xp, params, batch)
    return value, output
