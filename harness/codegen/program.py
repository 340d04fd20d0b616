"""A traced step as data: named inputs, one operation per array call, named outputs.

The tracer (`harness.codegen.trace`) fills a `Program`; the emitter (`harness.codegen.emit`)
writes it out as source for one library. Every value an operation reads is an `Arg`: a
variable (`Var`), a Python constant (`Const`), the dtype of a variable (`DTypeOf`), a dtype
the namespace names (`NsDType`), or a tuple or slice of these. Operations are in SSA form
(`node` ids) even where the emitted source reuses a name: an in-place update (`dx *= dy`)
makes a new node with its target's name, and the tracer refuses any later read of the old one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Var(NamedTuple):
    name: str
    node: int


class Const(NamedTuple):
    value: Any


class DTypeOf(NamedTuple):
    """`v.dtype`: the dtype an array had when it was read, spelled through the array."""

    var: Var


class NsDType(NamedTuple):
    """A dtype the namespace names (`xp.float64`)."""

    name: str


class Slice(NamedTuple):
    start: Any
    stop: Any
    step: Any


@dataclass(frozen=True)
class Op:
    """One operation. `kind` is one of:
    - "call": the namespace's function `name(*args, **kwargs)`;
    - "kernel": a composite or primitive of `harness.composites` (`stop_gradient`, and in
      `composites="call"` traces `softmax`, `relu`, ...), spelled per target;
    - "binary": `args[0] <name> args[1]` for an operator name (`@`, `+`, `>`, ...);
    - "unary": `<name>args[0]` (`-`);
    - "inplace": `args[0] <name>= args[1]`; `out` has args[0]'s name;
    - "getitem": `args[0][args[1]]`;
    - "attr": `args[0].<name>` (`T`, `mT`);
    - "comment": a line saying which layer the next operations belong to (`name`).
    """

    kind: str
    name: str
    args: tuple = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    out: Var | None = None


@dataclass(frozen=True)
class Input:
    """A named input: `group` ("params" or "batch") and its key there, the variable it is
    bound to, its shape and NumPy dtype name."""

    group: str
    key: str
    var: Var
    shape: tuple[int, ...]
    dtype: str


@dataclass
class Program:
    """A traced step: `kind` "manual" (outputs loss, grads, output) or "objective" (loss,
    output), for an x of `x_shape` in `dtype`."""

    kind: str
    dtype: str
    x_shape: tuple[int, ...]
    inputs: list[Input] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    loss: Var | None = None
    output: Var | None = None
    grads: dict[str, Var] = field(default_factory=dict)

    @property
    def results(self) -> list[Var]:
        return [v for v in (self.loss, *self.grads.values(), self.output) if v is not None]

    def live(self) -> list[Op]:
        """The operations the outputs depend on, in order (comments kept where a kept
        operation follows them); everything else is dead code the step need not run."""
        needed = {v.node for v in self.results}
        kept: list[Op] = []
        for op in reversed(self.ops):
            if op.kind == "comment":
                if kept and kept[-1].kind != "comment":
                    kept.append(op)
                continue
            if op.out is not None and op.out.node in needed:
                kept.append(op)
                needed.update(v.node for v in _vars(op.args) + _vars(op.kwargs))
        return list(reversed(kept))

    def counts(self) -> dict[str, int]:
        """How many live operations of each kind: for tests and reports."""
        found: dict[str, int] = {}
        for op in self.live():
            found[op.kind] = found.get(op.kind, 0) + 1
        return found


def _vars(value: Any) -> list[Var]:
    if isinstance(value, Var):
        return [value]
    if isinstance(value, DTypeOf):
        return [value.var]
    if isinstance(value, tuple | list | Slice):
        return [v for item in value for v in _vars(item)]
    return []
