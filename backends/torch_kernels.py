"""torch's native kernels for the network's composites (see harness.composites).

Shared by the torch backends (autograd, compiled, manual). Imported only when a torch step
is made, so loading the plugins imports no torch. No entry for the cross-entropy: torch has no
kernel for the seeds' -sum(t * log(p + eps)), and a fused log-softmax would drop the eps.
torch.relu's gradient is 0 at x = 0, as the composition's; at x = NaN it passes dy (the
composition's is 0), which only matters where the loss is NaN already.
"""

from __future__ import annotations

from functools import cache

from harness.composites import delegating


@cache
def kernels() -> dict:
    """name -> kernel(xp, *arrays); made once, so the delegated namespace is made once too."""
    import torch
    import torch.nn.functional as F

    return {
        "relu": lambda xp, x: torch.relu(x),
        "sigmoid": lambda xp, x: torch.sigmoid(x),
        "softmax": lambda xp, z: torch.softmax(z, dim=-1),
        "gelu": lambda xp, x: F.gelu(x, approximate="tanh"),
        "layer_norm": lambda xp, x, gamma, beta, eps: F.layer_norm(
            x, (x.shape[-1],), gamma, beta, eps
        ),
        "log_softmax": lambda xp, z: torch.log_softmax(z, dim=-1),
        "stop_gradient": lambda xp, x: x.detach(),
    }


def delegate(xp):
    """The torch namespace `xp` with torch's kernels in it: a ManualBackend's `tune`."""
    return delegating(xp, kernels())


def namespace():
    """The Array-API namespace of torch tensors, with torch's kernels in it."""
    import torch
    from array_api_compat import array_namespace

    return delegate(array_namespace(torch.empty(0)))
