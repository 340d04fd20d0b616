"""JAX `value_and_grad` without `jax.jit`: the eager half of the eager-vs-JIT comparison."""

from harness_backends.jax_grad import JaxGrad


class JaxEager(JaxGrad):
    name = "jax-eager"
    jit = False


backend = JaxEager()
