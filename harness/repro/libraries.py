"""What a reproducer writes for each array library, and how a backend maps to one.

One table, `LIBRARIES`, keyed by a backend's `library`: the code generator's target (how the
library spells the Array API), how the script turns NumPy data into the library's arrays and
back, what float64 needs (JAX's x64 switch), and how a step is made from the emitted code for
each strategy: the emitted hand-written step as it is, or the library's autograd around the
emitted objective. A backend is described by (library, strategy, execution), read from the
built-in table `plugins.BUILTIN` or, for any other plugin, from its own worker (plugin code
runs only there); `EXECUTION` says which built-in backends compile their step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

TORCH_AUTOGRAD = '''
def autograd_step(objective):
    """Fresh leaf tensors each step; torch.autograd.grad gives the gradients."""

    def step(params, batch):
        leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        loss, output = objective(leaves, batch)
        grads = torch.autograd.grad(loss, tuple(leaves.values()))
        return loss.detach(), dict(zip(leaves, grads)), output.detach()

    return step
'''

JAX_AUTOGRAD = '''
def autograd_step(objective, jit=True):
    """jax.value_and_grad of the objective (under jax.jit unless told not to)."""
    value_and_grad = jax.value_and_grad(objective, has_aux=True)
    if jit:
        value_and_grad = jax.jit(value_and_grad)

    def step(params, batch):
        (loss, output), grads = value_and_grad(params, batch)
        return loss, grads, output

    return step
'''


@dataclass(frozen=True)
class Library:
    """How a script computes on one library (templates take `{f}`, a function's name, and
    `{alias}`, the namespace's)."""

    target: str
    """The `harness.codegen` target that spells this library's calls."""
    floats: str
    """The expression that makes `value` (NumPy) a float array of `{dtype}`."""
    ids: str
    """... an integer array of token ids."""
    host: str
    """The expression that makes `value` a NumPy array."""
    manual: dict[str, str]
    """Execution -> the step made from the emitted hand-written step `{f}`."""
    autograd: dict[str, str] = field(default_factory=dict)
    """Execution -> the step made from the emitted objective `{f}` (none: no autograd)."""
    helpers: str = ""
    """Source the autograd templates call."""
    float64: tuple[str, ...] = ()
    """Lines that float64 needs before any array is made."""


LIBRARIES = MappingProxyType(
    {
        "numpy": Library(
            "numpy",
            floats="np.array(value, dtype=np.{dtype})",
            ids="np.array(value, dtype=np.int64)",
            host="np.asarray(value)",
            manual={"eager": "{f}"},
        ),
        "array-api-strict": Library(
            "array-api-strict",
            floats="xp.asarray(value, dtype=xp.{dtype})",
            ids="xp.asarray(value, dtype=xp.int64)",
            host="np.from_dlpack(value)",
            manual={"eager": "{f}"},
        ),
        "torch": Library(
            "torch",
            floats="torch.tensor(value, dtype=torch.{dtype})",
            ids="torch.tensor(value, dtype=torch.int64)",
            host="value.detach().cpu().numpy()",
            manual={"eager": "{f}"},
            autograd={
                "eager": "autograd_step({f})",
                "compile": "autograd_step(torch.compile({f}, dynamic=True))",
            },
            helpers=TORCH_AUTOGRAD,
        ),
        "jax": Library(
            "jax",
            floats="jnp.asarray(value, dtype=jnp.{dtype})",
            ids="jnp.asarray(value)",  # int32 without x64, as JAX indexes
            host="np.asarray(value)",
            manual={"eager": "{f}", "jit": "jax.jit({f})"},
            autograd={"eager": "autograd_step({f}, jit=False)", "jit": "autograd_step({f})"},
            helpers=JAX_AUTOGRAD,
            float64=('jax.config.update("jax_enable_x64", True)',),
        ),
    }
)
"""Libraries a reproducer can be written for, by a backend's `library`."""

EXECUTION = MappingProxyType({"jax": "jit", "jax-manual": "jit", "torch-compile": "compile"})
"""How a built-in backend runs its step beyond its strategy: under jax.jit, or torch.compile.
Any other backend's reproducer runs eagerly."""


@dataclass(frozen=True)
class Description:
    """What a reproducer needs of a backend, read without importing its plugin here."""

    name: str
    library: str
    strategy: str
    dtypes: tuple[str, ...] = ("float32", "float64")

    @property
    def execution(self) -> str:
        return EXECUTION.get(self.name, "eager")


class NoGenerator(ValueError):
    """The backend's library or strategy is one no reproducer can be written for."""


def library_of(description: Description) -> tuple[Library, str]:
    """The library's entry and the template that makes its step, or NoGenerator."""
    library = LIBRARIES.get(description.library)
    if library is None:
        known = ", ".join(LIBRARIES)
        raise NoGenerator(
            f"backend {description.name!r}: no reproducer for library "
            f"{description.library!r} (libraries known: {known})"
        )
    ways = library.manual if description.strategy == "manual" else library.autograd
    if description.execution not in ways:
        how = f"{description.strategy} {description.execution}".replace(" eager", "")
        raise NoGenerator(
            f"backend {description.name!r}: no reproducer for {how} steps on {description.library}"
        )
    return library, ways[description.execution]
