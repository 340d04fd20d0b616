"""Straight-line code from a network: trace its own step once, write it out for a library.

    from harness.codegen import trace_manual, trace_objective, emit, compile_program

    program = trace_manual(network, x_shape, "float64")   # forward + hand-written backward
    program = trace_objective(network, x_shape, "float32")  # forward + loss, for autograd
    source = emit(program, "torch")     # or "numpy", "jax", "array-api-strict", "xp"
    step = compile_program(program, xp)  # f(params, batch) on any Array-API namespace

`trace_*` run the network's own `manual_step` / `objective` on recording arrays (see
`trace`), so every layer kind, present or future, is covered with no code of its own; a
program is shape-specialised (one per x shape and dtype). `emit` gives the source of
`step(params, batch) -> (loss, grads, output)` or `objective(params, batch) -> (loss,
output)`; `TARGETS` (keyed by library) says how each library spells the few calls that differ
from the standard. `compile_program` executes the "xp" spelling with `xp` bound: a manual
program gives `(loss, grads, output)`, an objective `(loss, output)`. `kernels="call"` keeps
each composite (softmax, relu, ...) one call, so a namespace from `composites.delegating`
runs its native kernel there. Importing this package imports NumPy, not any other library.
"""

from harness.codegen.compile import compile_program, namespace_globals
from harness.codegen.emit import emit
from harness.codegen.program import Program
from harness.codegen.steps import placeholders, trace_manual, trace_objective
from harness.codegen.targets import TARGETS, Target, target
from harness.codegen.trace import TraceError

__all__ = [
    "TARGETS",
    "Program",
    "Target",
    "TraceError",
    "compile_program",
    "emit",
    "namespace_globals",
    "placeholders",
    "target",
    "trace_manual",
    "trace_objective",
]
