"""The hand-written backward on JAX arrays, without `jax.grad`: JAX's half of the three-way check.

The manual step is compiled whole with `jax.jit` (JIT is not autograd: no derivative is taken
by JAX). Eager, every new array shape compiles each operation one by one, about 2 s a case
here; jitted, one compilation. float64 needs x64 mode, which `numerics` scopes to the cell
with `jax.enable_x64`, as the autograd JAX backend does, so no global JAX state leaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.manual import ManualBackend
from harness.protocol import INDEX_DTYPE, StepResult


@dataclass
class JaxManual(ManualBackend):
    def numerics(self, dtype: str):
        import jax

        return jax.enable_x64(dtype == "float64")

    def from_numpy(self, array, dtype: str):
        """Integer data (token ids) is cast on the host and placed: JAX without x64 indexes
        in int32, and asking `asarray` for int64 there warns."""
        if dtype != INDEX_DTYPE:
            return super().from_numpy(array, dtype)
        import jax
        import numpy as np

        return jax.device_put(np.array(array, dtype=dtype, copy=True), self.device)

    def to_numpy(self, array):
        import numpy as np

        return np.array(array, copy=True)  # from any JAX device, GPU included

    def make_step(self, network, dtype: str, *, trace: bool = False):
        """Compiled once per network signature, as the autograd JAX backend's step is."""
        cache = self.__dict__.setdefault("_compiled", {})
        key = (network.signature, dtype, trace)
        if key not in cache:
            cache[key] = self._compile(network, dtype, trace)
        return cache[key]

    def _compile(self, network, dtype: str, trace: bool):
        import jax

        manual = super().make_step(network, dtype, trace=trace)

        @jax.jit
        def arrays(params, batch):  # StepResult is no pytree; its fields are
            result = manual(params, batch)
            return result.loss, result.grads, result.output, result.trace

        def step(params, batch):
            return StepResult(*arrays(params, batch))

        return step


def _native(xp):
    """JAX's kernels for the composites' forwards; each backward stays hand-written."""
    from harness_backends.jax_kernels import delegate

    return delegate(xp)


backend = JaxManual(name="jax-manual", module="jax.numpy", library="jax", tune=_native)
