"""JAX `value_and_grad` under `jax.jit`, on the shared Array-API forward.

float64 needs x64 mode; `numerics` turns it on only while a cell runs (jax.enable_x64 is a
context manager), so no global JAX state leaks into other tests or backends.
"""

from __future__ import annotations

from harness.manual import _version
from harness.protocol import DTYPES, Availability, StepResult


class JaxGrad:
    name = "jax"
    library = "jax"
    dtypes = DTYPES
    jit = True

    def availability(self) -> Availability:
        try:
            import jax  # noqa: F401
        except Exception as exc:
            return Availability(False, f"cannot import jax: {exc}")
        return Availability(True, version=_version("jax"))

    def numerics(self, dtype: str):
        import jax

        return jax.enable_x64(dtype == "float64")

    def from_numpy(self, array, dtype: str):
        import jax.numpy as jnp

        return jnp.asarray(array, dtype=getattr(jnp, dtype))

    def to_numpy(self, array):
        import numpy as np

        return np.asarray(array)

    def make_step(self, network, dtype: str, *, trace: bool = False):
        import jax

        if trace:
            return self._traced_step(network)
        xp = _xp()

        def objective(params, batch):
            value, (output, _) = network.objective(xp, params, batch)
            return value, output  # no activations out: XLA may fuse them away

        value_and_grad = jax.value_and_grad(objective, has_aux=True)
        if self.jit:
            value_and_grad = jax.jit(value_and_grad)

        def step(params, batch):
            (loss, output), grads = value_and_grad(params, batch)
            return StepResult(loss, grads, output)

        return step

    def _traced_step(self, network):
        """The step that also names every activation and d loss / d activation, for diagnosis."""
        import jax

        xp = _xp()

        def objective(params, taps, batch):
            return network.objective(xp, params, batch, taps)

        value_and_grad = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)
        if self.jit:
            value_and_grad = jax.jit(value_and_grad)

        def step(params, batch):
            taps = _taps(network, params, batch)
            (loss, (output, activations)), (grads, tap_grads) = value_and_grad(params, taps, batch)
            named = network.trace(activations, loss, tap_grads, grads)
            return StepResult(loss, grads, output, named)

        return step


def _taps(network, params, batch):
    import jax.numpy as jnp

    _, _, activations = network.forward(_xp(), params, batch)
    return [jnp.zeros_like(a) for a in activations]


def _xp():
    """jax.numpy, with JAX's native kernels for the composites (harness.composites)."""
    from harness_backends.jax_kernels import namespace

    return namespace()


backend = JaxGrad()
