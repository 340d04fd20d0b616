"""How each library spells what the Array API standard spells: one small table per target.

A `Target` names the namespace alias the emitted code calls (`xp.`, `np.`, `torch.`, `jnp.`)
and, for the few functions whose native spelling differs from the standard's, how to write
the call. NumPy, JAX and array-api-strict follow the standard for everything the network
uses; torch renames `axis`/`keepdims` to `dim`/`keepdim` and has its own names for a few
functions. `kernels` spells the ops of `harness.composites` (`stop_gradient`: identity
without autograd, `Tensor.detach`, `jax.lax.stop_gradient`). The "xp" target is the standard
itself, for code compiled in this process against any namespace; its kernels are functions
the compiler binds (`harness.codegen.compile`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

Spell = Callable[[str, list[str], dict[str, str]], str]
"""(alias, positional argument sources, keyword argument sources) -> the call's source."""


@dataclass(frozen=True)
class Target:
    name: str
    alias: str
    imports: tuple[str, ...]
    calls: Mapping[str, Spell] = field(default_factory=dict)
    kernels: Mapping[str, Spell] = field(default_factory=dict)
    inplace: bool = True
    """Whether `a *= b` is written in place (JAX arrays are immutable: `a = a * b`)."""


def _call(name: str, rename: Mapping[str, str] | None = None) -> Spell:
    """`alias.name(args, kwargs)`, keyword names renamed."""
    rename = rename or {}

    def spell(alias, args, kwargs):
        named = [f"{rename.get(k, k)}={v}" for k, v in kwargs.items()]
        return f"{alias}.{name}({', '.join([*args, *named])})"

    return spell


_DIM = {"axis": "dim", "keepdims": "keepdim"}


def _torch_take(alias, args, kwargs):
    axis = kwargs.get("axis", args[2] if len(args) > 2 else "0")
    return f"{alias}.index_select({args[0]}, {axis}, {args[1]})"


def _torch_cumulative_sum(alias, args, kwargs):
    dim = kwargs.get("axis", "0")  # the standard's default axis is only for 1-D arrays
    extra = "".join(f", {k}={v}" for k, v in kwargs.items() if k == "dtype")
    return f"{alias}.cumsum({args[0]}, dim={dim}{extra})"


def _method(template: str) -> Spell:
    """A method or attribute of the first argument: `{0}.to({1})`."""
    return lambda alias, args, kwargs: template.format(*args, **kwargs)


def _identity(alias, args, kwargs):
    return args[0]


TORCH_CALLS: Mapping[str, Spell] = MappingProxyType(
    {
        "sum": _call("sum", _DIM),
        "mean": _call("mean", _DIM),
        "prod": _call("prod", _DIM),
        "max": _call("amax", _DIM),
        "min": _call("amin", _DIM),
        "argmax": _call("argmax", _DIM),
        "any": _call("any", _DIM),
        "all": _call("all", _DIM),
        "astype": _method("{0}.to({1})"),
        "take": _torch_take,
        "cumulative_sum": _torch_cumulative_sum,
        "matrix_transpose": _method("{0}.mT"),
        "permute_dims": _call("permute"),
        "expand_dims": _call("unsqueeze", {"axis": "dim"}),
        "squeeze": _call("squeeze", {"axis": "dim"}),
        "concat": _call("cat", {"axis": "dim"}),
        "pow": _call("pow"),
    }
)

TARGETS: Mapping[str, Target] = MappingProxyType(
    {
        "xp": Target("xp", "xp", ()),
        "numpy": Target(
            "numpy", "np", ("import numpy as np",), kernels={"stop_gradient": _identity}
        ),
        "array-api-strict": Target(
            "array-api-strict",
            "xp",
            ("import array_api_strict as xp",),
            kernels={"stop_gradient": _identity},
        ),
        "torch": Target(
            "torch",
            "torch",
            ("import torch",),
            calls=TORCH_CALLS,
            kernels={"stop_gradient": _method("{0}.detach()")},
        ),
        "jax": Target(
            "jax",
            "jnp",
            ("import jax", "import jax.numpy as jnp"),
            kernels={"stop_gradient": _method("jax.lax.stop_gradient({0})")},
            inplace=False,
        ),
    }
)
"""Emit targets by library name (a backend's `library`), and "xp" for the standard itself."""


def target(name: str | Target) -> Target:
    """The target of that name, or a ValueError listing the known ones."""
    if isinstance(name, Target):
        return name
    if name not in TARGETS:
        raise ValueError(f"no code generator for library {name!r} (known: {', '.join(TARGETS)})")
    return TARGETS[name]
