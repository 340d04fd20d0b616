"""Run the network's own functions once on recording arrays, and keep what they did.

A `Traced` array holds a real NumPy value (so shapes, dtypes and `a.ndim == 2` resolve as they
would) and the name of the variable the emitted code will hold it in. Every Array-API call
on the recording namespace and every operator on a `Traced` appends one `Op` to the
`Program`; Python numbers become literals. Nothing here knows a layer: the network's
`manual_step` and `objective` run unchanged, so a new layer kind is traced the day it is
declared. The code may not branch on array values (`bool(a)` raises), which the network
never does. Multiplying by 1 and dividing by 1 are folded away, and so is adding or
subtracting 0 (only the sign of a zero can differ): a sum reduction's `loss * 1.0` costs an
autograd library a node.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from harness import composites
from harness.codegen.program import Const, DTypeOf, Input, NsDType, Op, Program, Slice, Var


class TraceError(TypeError):
    """The traced code did something straight-line code cannot hold."""


_BINARY = {
    "@": operator.matmul,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
}
_INPLACE = {"+": operator.iadd, "-": operator.isub, "*": operator.imul, "/": operator.itruediv}
_VIEWS = {"reshape", "matrix_transpose", "permute_dims", "asarray", "squeeze", "expand_dims"}
"""Calls whose result may share memory with an argument: never updated in place."""


class Recorder:
    """The program being traced, and the counter that names its variables."""

    def __init__(self, program: Program, taken: set[str]) -> None:
        self.program = program
        self.taken = taken
        self.nodes = 0
        self.temps = 0

    def var(self, name: str | None = None) -> Var:
        self.nodes += 1
        if name is None:
            while True:
                self.temps += 1
                name = f"v{self.temps}"
                if name not in self.taken:
                    break
        return Var(name, self.nodes)

    def add(self, kind: str, name: str, args=(), kwargs=None, value=None, fresh=True, out=None):
        """Append one op whose result is `value`; return it as a new Traced."""
        out = out or self.var()
        items = tuple((k, self.arg(v)) for k, v in (kwargs or {}).items())
        self.program.ops.append(Op(kind, name, tuple(self.arg(a) for a in args), items, out))
        return Traced(self, value, out, fresh)

    def comment(self, text: str) -> None:
        self.program.ops.append(Op("comment", text))

    def arg(self, value: Any) -> Any:
        """The program's form of an argument, refusing what code cannot spell."""
        if isinstance(value, Traced):
            if value.stale:
                raise TraceError(f"{value.var.name} is read after an in-place update")
            return value.var
        if isinstance(value, TracedDType):
            return value.spec
        if isinstance(value, tuple | list):
            return tuple(self.arg(v) for v in value)
        if isinstance(value, slice):
            return Slice(self.arg(value.start), self.arg(value.stop), self.arg(value.step))
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or value is Ellipsis or isinstance(value, bool | int | float | str):
            return Const(value)
        raise TraceError(f"cannot write {type(value).__name__} into code")


def real(value: Any) -> Any:
    """The NumPy value behind a traced argument (recursively)."""
    if isinstance(value, Traced):
        return value.value
    if isinstance(value, TracedDType):
        return value.dtype
    if isinstance(value, tuple | list):
        return type(value)(real(v) for v in value)
    if isinstance(value, slice):
        return slice(real(value.start), real(value.stop), real(value.step))
    if isinstance(value, dict):
        return {k: real(v) for k, v in value.items()}
    return value


class TracedDType:
    """A dtype read from an array or the namespace: compares as the real dtype."""

    def __init__(self, dtype: np.dtype, spec: DTypeOf | NsDType) -> None:
        self.dtype, self.spec = np.dtype(dtype), spec

    def __eq__(self, other: object) -> bool:
        return self.dtype == real(other)

    def __hash__(self) -> int:
        return hash(self.dtype)

    @property
    def kind(self) -> str:
        return self.dtype.kind


def _is_unit(value: Any, unit: int) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == unit


class Traced:
    """An array of the traced program: its real value and its variable."""

    __array_ufunc__ = None  # NumPy scalars and arrays defer to these operators

    def __init__(self, recorder: Recorder, value: Any, var: Var, fresh: bool = True) -> None:
        self.recorder, self.value, self.var = recorder, np.asarray(value), var
        self.fresh = fresh
        """Made by this program's arithmetic, shared with nothing: may be updated in place."""
        self.stale = False

    # what the network reads of an array
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.value.shape)

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def size(self) -> int:
        return int(self.value.size)

    @property
    def dtype(self) -> TracedDType:
        return TracedDType(self.value.dtype, DTypeOf(self.var))

    @property
    def T(self) -> Traced:
        return self.recorder.add("attr", "T", (self,), value=self.value.T, fresh=False)

    @property
    def mT(self) -> Traced:
        value = np.swapaxes(self.value, -1, -2)
        return self.recorder.add("attr", "mT", (self,), value=value, fresh=False)

    def __getitem__(self, key: Any) -> Traced:
        value = self.value[real(key)]
        return self.recorder.add("getitem", "[]", (self, key), value=value, fresh=False)

    def __bool__(self) -> bool:
        raise TraceError("the traced code branches on an array's value")

    __float__ = __int__ = __index__ = __bool__
    __hash__ = object.__hash__

    def __neg__(self) -> Traced:
        return self.recorder.add("unary", "-", (self,), value=-self.value)

    def _binary(self, symbol: str, left: Any, right: Any) -> Traced:
        other = right if left is self else left
        folded = self._fold(symbol, other, left is self)
        if folded is not None:
            return folded
        value = _BINARY[symbol](real(left), real(right))
        return self.recorder.add("binary", symbol, (left, right), value=value)

    def _fold(self, symbol: str, other: Any, self_left: bool) -> Traced | None:
        """`a * 1`, `1 * a`, `a / 1`, `a + 0`, `0 + a`, `a - 0` on a float array: `a` itself,
        as a new name for the same value (never updated in place)."""
        if self.value.dtype.kind != "f":
            return None
        unit = (symbol == "*" or (symbol == "/" and self_left)) and _is_unit(other, 1)
        zero = (symbol == "+" or (symbol == "-" and self_left)) and _is_unit(other, 0)
        if unit or zero:
            return Traced(self.recorder, self.value, self.var, fresh=False)
        return None

    def _inplace(self, symbol: str, other: Any) -> Traced:
        """`a op= b`: in place when `a` is this program's own, else as `a = a op b`."""
        if self._fold(symbol, other, True) is not None:
            return self
        if not self.fresh:  # an input, a view or an alias: `a = a op b`
            return self._binary(symbol, self, other)
        value = self.value.copy()
        _INPLACE[symbol](value, real(other))
        out = self.recorder.var(self.var.name)
        result = self.recorder.add("inplace", symbol, (self, other), value=value, out=out)
        self.stale = True
        return result


def _operators() -> None:
    """Give Traced every binary operator, reflected and in place."""
    dunder = {"@": "matmul", "+": "add", "-": "sub", "*": "mul", "/": "truediv"}
    dunder.update({"//": "floordiv", "%": "mod", "**": "pow", "&": "and", "|": "or", "^": "xor"})
    for symbol, stem in dunder.items():
        setattr(Traced, f"__{stem}__", lambda a, b, s=symbol: a._binary(s, a, b))
        setattr(Traced, f"__r{stem}__", lambda a, b, s=symbol: a._binary(s, b, a))
        if symbol in _INPLACE:
            setattr(Traced, f"__i{stem}__", lambda a, b, s=symbol: a._inplace(s, b))
    compare = {">": "gt", ">=": "ge", "<": "lt", "<=": "le", "==": "eq", "!=": "ne"}
    for symbol, stem in compare.items():
        setattr(Traced, f"__{stem}__", lambda a, b, s=symbol: a._binary(s, a, b))


_operators()


class Namespace:
    """The recording Array-API namespace: each function runs on NumPy and is recorded.

    `kernels` "inline" traces each composite of `harness.composites` as its composition;
    "call" records it as one op, for a target that calls the composite itself."""

    def __init__(self, recorder: Recorder, kernels: str = "inline") -> None:
        from array_api_compat import array_namespace

        self._recorder = recorder
        self._xp = array_namespace(np.asarray(0.0))
        table: dict[str, Any] = {**composites.COMPOSITIONS} if kernels == "inline" else {}
        for name in [*composites.COMPOSITIONS, *composites.PRIMITIVES]:
            table.setdefault(name, self._kernel(name))
        self.harness_composites = table

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._xp, name)
        if isinstance(found, type) and issubclass(found, np.generic):
            return TracedDType(np.dtype(found), NsDType(name))
        if isinstance(found, int | float) or not callable(found):
            return found
        return self._call(name, found)

    def _call(self, name: str, function):
        recorder = self._recorder

        def call(*args, **kwargs):
            value = function(*real(args), **real(kwargs))
            if not isinstance(value, np.ndarray | np.generic):
                raise TraceError(f"{name}() gave a {type(value).__name__}, not one array")
            return recorder.add("call", name, args, kwargs, value, fresh=name not in _VIEWS)

        return call

    def _kernel(self, name: str):
        recorder = self._recorder
        composition = {**composites.COMPOSITIONS, **composites.PRIMITIVES}[name]

        def kernel(xp, *args):
            value = composition(self._xp, *real(args))
            fresh = name not in composites.PRIMITIVES
            return recorder.add("kernel", name, args, value=value, fresh=fresh)

        return kernel


def inputs(recorder: Recorder, group: str, arrays: dict[str, np.ndarray]) -> dict[str, Traced]:
    """Bind each array to a variable named after its key (`mask.3` as `mask_3`)."""
    bound = {}
    for key, value in arrays.items():
        name = "".join(c if c.isalnum() or c == "_" else "_" for c in key)
        if not name.isidentifier() or name in recorder.taken:
            name = f"{group}_{len(recorder.taken)}"
        recorder.taken.add(name)
        var = recorder.var(name)
        recorder.program.inputs.append(Input(group, key, var, tuple(value.shape), value.dtype.name))
        bound[key] = Traced(recorder, value, var, fresh=False)
    return bound
