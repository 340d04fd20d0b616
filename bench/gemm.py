"""The machine's matmul rate, measured in the same run: the floor every step is compared with.

FLOPs of an n x n by n x n product are 2 n^3. Each library multiplies with its own BLAS
(OpenBLAS for NumPy, MKL or OpenBLAS for torch, Eigen for XLA); the report takes the fastest.
"""

from __future__ import annotations

import numpy as np

from .sync import synchronizer

FULL_N, QUICK_N = 2048, 1024


def matmul_call(library: str, n: int, dtype: str, device: str):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    wait = synchronizer(library, device)
    if library == "torch":
        import torch

        ta, tb = (torch.tensor(m, device=device) for m in (a, b))
        return lambda: wait(ta @ tb)
    if library == "jax":
        import jax
        import jax.numpy as jnp

        matmul = jax.jit(jnp.matmul)
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        return lambda: wait(matmul(ja, jb))
    return lambda: a @ b
