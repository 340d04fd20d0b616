"""PyTorch autograd on the shared Array-API forward.

Parameters that do not require grad become fresh leaf tensors each step (a tensor that already
requires grad is differentiated as it is) and `torch.autograd.grad` returns the gradients, so
nothing accumulates in `.grad` between steps (the bug class of seed 003).
"""

from __future__ import annotations

from contextlib import contextmanager

from harness.manual import _version
from harness.protocol import DTYPES, Availability, StepResult


class TorchAutograd:
    name = "torch"
    library = "torch"
    dtypes = DTYPES

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def availability(self) -> Availability:
        try:
            import torch
        except Exception as exc:
            return Availability(False, f"cannot import torch: {exc}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            return Availability(False, "no CUDA device")
        return Availability(True, version=_version("torch"))

    @contextmanager
    def numerics(self, dtype: str):
        """Keep matmuls in true float32 (no TF32) while the cell runs, then restore."""
        import torch

        saved = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = saved

    def from_numpy(self, array, dtype: str):
        import torch

        return torch.tensor(array, dtype=getattr(torch, dtype), device=self.device)

    def to_numpy(self, array):
        return array.detach().cpu().numpy()

    def make_step(self, network, dtype: str, *, trace: bool = False):
        """The network's objective as generated straight-line code (harness.generated), made
        once per network signature, and one `torch.autograd.grad`; traced, the network's own
        code with taps."""
        import torch

        xp = _xp()
        if trace:
            return _traced_step(network, xp)
        made = self.__dict__.setdefault("_generated", {})
        key = (network.signature, dtype)
        if key not in made:
            made[key] = self._objective(network, dtype, xp)
        objective, grad = made[key], torch.autograd.grad

        def step(params, batch):
            leaves = {
                k: v if v.requires_grad else v.detach().requires_grad_() for k, v in params.items()
            }
            loss, output = objective(leaves, batch)
            grads = grad(loss, tuple(leaves.values()))
            return StepResult(loss.detach(), dict(zip(leaves, grads, strict=True)), output.detach())

        return step

    def _objective(self, network, dtype: str, xp):
        """`f(params, batch) -> (loss, output)`: the network's objective, generated."""
        import torch

        from harness.generated import objective

        return objective(network, dtype, xp, spelling=("torch", {"torch": torch}))


def _traced_step(network, xp):
    """The step that also names every activation and d loss / d activation, for diagnosis."""
    import torch

    def step(params, batch):
        leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        taps = _taps(network, batch, leaves, xp)
        loss, (output, activations) = network.objective(xp, leaves, batch, taps)
        grads = torch.autograd.grad(loss, [*leaves.values(), *taps])
        named = dict(zip(leaves, grads[: len(leaves)], strict=True))
        detached = [a.detach() for a in activations]
        named_trace = network.trace(detached, loss.detach(), grads[len(leaves) :], named)
        return StepResult(loss.detach(), named, output.detach(), named_trace)

    return step


def _taps(network, batch, leaves, xp):
    """Zero tensors added to each layer's output, so autograd yields d loss / d activation."""
    import torch

    with torch.no_grad():
        _, _, activations = network.forward(xp, leaves, batch)
    return [torch.zeros_like(a).requires_grad_(True) for a in activations]


def _xp():
    """torch's Array-API namespace, with torch's native kernels for the composites."""
    from harness_backends.torch_kernels import namespace

    return namespace()


backend = TorchAutograd()
