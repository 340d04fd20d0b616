"""Turn a traced program into a Python function in this process, on any Array-API namespace.

The program is emitted for the "xp" target (the standard's own spelling) and executed with
`xp` bound to the namespace given; each kernel op (`stop_gradient`, and composites traced
with `kernels="call"`) calls `harness.composites.kernel(xp, name)`, so a namespace that
carries a library's native kernels (`composites.delegating`) runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from harness import composites
from harness.codegen.emit import emit
from harness.codegen.program import Program


def compile_program(
    program: Program,
    xp: Any,
    name: str | None = None,
    *,
    target: str = "xp",
    scope: dict[str, Any] | None = None,
) -> Callable:
    """`f(params, batch)` -> `(loss, grads, output)` (manual) or `(loss, output)`
    (objective), computed by straight-line code on `xp`'s arrays.

    `target` another library's spelling (`"torch"`: `torch.sum(v, dim=0)`, no wrapper in
    between), its module given in `scope` under the target's alias (`{"torch": torch}`);
    kernels that target cannot spell still call `composites.kernel(xp, name)`."""
    source = emit(program, target, name, bound=True)
    scope = {**namespace_globals(xp), **(scope or {})}
    code = compile(source, f"<harness.codegen {program.kind} {program.x_shape}>", "exec")
    exec(code, scope)  # the source is ours, emitted from the trace
    return scope[name or ("step" if program.kind == "manual" else "objective")]


def namespace_globals(xp: Any) -> dict[str, Any]:
    """What emitted "xp" code reads: `xp` and one `_kernel_<name>` per composite."""
    scope: dict[str, Any] = {"xp": xp, "__builtins__": __builtins__}
    for name in [*composites.COMPOSITIONS, *composites.PRIMITIVES]:
        scope[f"_kernel_{name}"] = partial(composites.kernel(xp, name), xp)
    return scope
