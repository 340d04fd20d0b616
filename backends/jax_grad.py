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
        """Cast on the host, then place: a cast on the device compiles a kernel per shape.
        (JAX arrays are immutable; the harness hands over a fresh copy to place.)"""
        import jax
        import numpy as np

        return jax.device_put(np.array(array, dtype=dtype, copy=True))

    def to_numpy(self, array):
        import numpy as np

        return np.asarray(array)

    def make_step(self, network, dtype: str, *, trace: bool = False):
        """The compiled step is kept per network signature: cases and runs that share their
        network's structure share one compiled function (JAX recompiles only for new shapes)."""
        cache = self.__dict__.setdefault("_compiled", {})
        key = (network.signature, dtype, trace)
        if key not in cache:
            cache[key] = self._traced_step(network) if trace else self._fast_step(network, dtype)
        return cache[key]

    def _fast_step(self, network, dtype: str):
        """Positional arrays in, a flat tuple out: JAX's C++ dispatch flattens no dict on the
        way in, and builds the gradients' dict itself on the way out; the Python around the
        jitted call is a few look-ups and the StepResult."""
        if not self.jit:
            return self._eager_step(network)
        import jax

        objective = _positional(network, dtype)
        params, batch = objective.param_names, objective.batch_names
        value_and_grad = jax.value_and_grad(
            objective, argnums=tuple(range(len(params))), has_aux=True
        )

        @jax.jit
        def arrays(*args):
            (loss, output), grads = value_and_grad(*args)
            return loss, dict(zip(params, grads, strict=True)), output

        take_params, take_batch = _taker(params), _taker(batch)

        def step(given, data):
            return StepResult(*arrays(*take_params(given), *take_batch(data)))

        return step

    def _eager_step(self, network):
        """Every operation dispatched on its own, through the network's own code."""
        import jax

        xp = _xp()

        def objective(params, batch):
            value, (output, _) = network.objective(xp, params, batch)
            return value, output

        value_and_grad = jax.value_and_grad(objective, has_aux=True)

        def step(params, batch):
            (loss, output), grads = value_and_grad(params, batch)
            return StepResult(loss, grads, output)

        return step

    def _traced_step(self, network):
        """The step that also names every activation and d loss / d activation, for diagnosis."""
        import jax
        import jax.numpy as jnp

        xp = _xp()

        def objective(params, taps, batch):
            return network.objective(xp, params, batch, taps)

        value_and_grad = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)

        def traced(params, batch):
            # zero taps shaped like each activation; XLA drops the forward that shapes them
            taps = [jnp.zeros_like(a) for a in network.forward(xp, params, batch)[2]]
            return value_and_grad(params, taps, batch)

        if self.jit:
            traced = jax.jit(traced)

        def step(params, batch):
            (loss, (output, activations)), (grads, tap_grads) = traced(params, batch)
            named = network.trace(activations, loss, tap_grads, grads)
            return StepResult(loss, grads, output, named)

        return step


def _positional(network, dtype: str):
    """The network's loss, generated (harness.generated), as f(*params, *batch) -> (loss,
    output), its argument names on it: `param_names`, then `batch_names` (x, y and each
    dropout mask). Only jit's tracing runs it; XLA runs what it traced."""
    from harness.generated import objective as generated

    loss = generated(network, dtype, _xp())
    params = tuple(network.param_shapes)
    batch = ("x", "y", *(name for name, _, _ in network.mask_layers))
    count = len(params)

    def objective(*args):
        named = dict(zip(params, args[:count], strict=True))
        return loss(named, dict(zip(batch, args[count:], strict=True)))

    objective.param_names, objective.batch_names = params, batch
    return objective


def _taker(names: tuple[str, ...]):
    """mapping -> the tuple of its values at `names`, in C (operator.itemgetter)."""
    from operator import itemgetter

    if len(names) == 1:
        return lambda mapping: (mapping[names[0]],)
    return itemgetter(*names) if names else lambda mapping: ()


def _xp():
    """jax.numpy, with JAX's native kernels for the composites (harness.composites)."""
    from harness_backends.jax_kernels import namespace

    return namespace()


backend = JaxGrad()
