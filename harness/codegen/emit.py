"""Write a traced `Program` as the source of one Python function for one target.

The function is `name(params, batch)`: it binds each input to a local variable, runs the
live operations one statement each, in the order the network ran them (a comment before
each layer's), and returns `(loss, grads, output)` for a manual program or `(loss, output)`
for an objective. The code calls the target's namespace through its alias (`np.`,
`torch.`, `jnp.`, `xp.`) and nothing else but the kernels the "xp" target binds.
"""

from __future__ import annotations

import math
from typing import Any

from harness.codegen.program import Const, DTypeOf, NsDType, Op, Program, Slice, Var
from harness.codegen.targets import Target, target


def emit(
    program: Program, to: str | Target, name: str | None = None, *, bound: bool = False
) -> str:
    """The source of the step function (default name: "step" for a manual program,
    "objective" for an objective). With `bound`, a kernel the target has no spelling for
    calls `_kernel_<name>`, a function the caller binds (`compile_program` does); without,
    such a kernel is a ValueError. The "xp" target always binds its kernels."""
    spec = target(to)
    bound = bound or spec.name == "xp"
    name = name or ("step" if program.kind == "manual" else "objective")
    lines = [f"def {name}(params, batch):"]
    lines += [f"    {i.var.name} = {i.group}[{i.key!r}]" for i in program.inputs]
    for op in program.live():
        lines.append(f"    {_statement(op, spec, bound)}")
    lines.append(f"    return {_returned(program)}")
    return "\n".join(lines) + "\n"


def _returned(program: Program) -> str:
    loss, output = program.loss.name, program.output.name
    if program.kind != "manual":
        return f"{loss}, {output}"
    grads = ", ".join(f"{key!r}: {var.name}" for key, var in program.grads.items())
    return f"{loss}, {{{grads}}}, {output}"


def _statement(op: Op, spec: Target, bound: bool) -> str:
    if op.kind == "comment":
        return f"# {op.name}"
    out = op.out.name
    if op.kind == "inplace":
        target_name, other = op.args[0].name, _source(op.args[1], spec)
        if spec.inplace:
            return f"{out} {op.name}= {other}"
        return f"{out} = {target_name} {op.name} {other}"
    return f"{out} = {expression(op, spec, bound)}"


def expression(op: Op, spec: Target, bound: bool = False) -> str:
    """The right-hand side of one operation (`bound`: see `emit`)."""
    args = [_source(a, spec) for a in op.args]
    kwargs = {k: _source(v, spec) for k, v in op.kwargs}
    if op.kind == "binary":
        return f"{args[0]} {op.name} {args[1]}"
    if op.kind == "unary":
        return f"{op.name}{args[0]}"
    if op.kind == "getitem":
        return f"{args[0]}[{_index(op.args[1], spec)}]"
    if op.kind == "attr":
        return f"{args[0]}.{op.name}"
    if op.kind == "kernel":
        spell = spec.kernels.get(op.name)
        if spell is None and not bound:
            raise ValueError(f"target {spec.name} has no spelling of kernel {op.name!r}")
        if spell is None:
            return f"_kernel_{op.name}({', '.join(args)})"
        return spell(spec.alias, args, kwargs)
    if op.kind == "call":
        spell = spec.calls.get(op.name)
        if spell is not None:
            return spell(spec.alias, args, kwargs)
        named = [f"{k}={v}" for k, v in kwargs.items()]
        return f"{spec.alias}.{op.name}({', '.join([*args, *named])})"
    raise ValueError(f"unknown op kind {op.kind!r}")


def _index(key: Any, spec: Target) -> str:
    """A subscript: a tuple without parentheses, slices as `a:b`."""
    if isinstance(key, tuple) and not isinstance(key, Var | Const | DTypeOf | NsDType | Slice):
        parts = [_index(k, spec) for k in key]
        return ", ".join(parts) + ("," if len(parts) == 1 else "")
    if isinstance(key, Slice):
        start, stop, step = ("" if part == Const(None) else _source(part, spec) for part in key)
        return f"{start}:{stop}" + (f":{step}" if step else "")
    return _source(key, spec)


def _source(value: Any, spec: Target) -> str:
    if isinstance(value, Var):
        return value.name
    if isinstance(value, Const):
        return literal(value.value)
    if isinstance(value, DTypeOf):
        return f"{value.var.name}.dtype"
    if isinstance(value, NsDType):
        return f"{spec.alias}.{value.name}"
    if isinstance(value, Slice):
        return f"slice({', '.join(_source(part, spec) for part in value)})"
    if isinstance(value, tuple):
        parts = [_source(v, spec) for v in value]
        return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"
    raise ValueError(f"cannot write {value!r}")


def literal(value: Any) -> str:
    """A Python literal that reads back as exactly `value` (floats by repr)."""
    if value is Ellipsis:
        return "..."
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    return repr(value)
