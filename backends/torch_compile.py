"""PyTorch autograd through `torch.compile`: the compiled half of torch eager-vs-compiled.

The objective is compiled once per network signature (cases that share a network structure
share it), however often a step is made for it; autograd then differentiates the compiled
graph. Each signature gets a function with its own code object, because Dynamo keeps its
cache, and its limit of 8 recompiles, per code object: shared by every network, the ninth
network or dtype would silently run eager. The first call
compiles (about 2 s with a warm inductor cache, over 20 s cold on a 2-core CPU), so the test
suite marks this backend `slow` (see `slow` below).
"""

from __future__ import annotations

import types

from harness_backends.torch_autograd import TorchAutograd, _xp


class TorchCompile(TorchAutograd):
    name = "torch-compile"
    slow = True
    """Read by tests/test_cases.py: cells on this backend carry the `slow` pytest marker."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device)
        self._objectives: dict[tuple, _CompiledObjective] = {}
        """Network signature -> its compiled objective: a later step, of this case or of
        another case with the same network structure, reuses the graphs."""

    def make_step(self, network, dtype: str, *, trace: bool = False):
        if (objective := self._objectives.get(network.signature)) is None:
            objective = self._objectives[network.signature] = _CompiledObjective(network)
        return super().make_step(objective, dtype, trace=trace)

    def _objective(self, network, dtype: str, xp):
        """The compiled objective itself (`network` is a _CompiledObjective), not generated
        code: torch.compile traces the network's own code."""

        def objective(params, batch):
            value, (output, _) = network.objective(xp, params, batch)
            return value, output

        return objective


class _CompiledObjective:
    """The network, with its `objective` compiled; everything else passes through."""

    def __init__(self, network) -> None:
        import torch

        xp = _xp()
        self._network = network
        # computed here, not inside the compiled region: a cached_property takes a lock there,
        # a graph break Dynamo cannot resume from (it then warns, an error under `-W error`)
        network.points  # noqa: B018
        objective = _own_code(
            lambda params, batch, taps: network.objective(xp, params, batch, taps)
        )
        self._compiled = torch.compile(objective, dynamic=True)

    def objective(self, xp, params, batch, taps=None):
        return self._compiled(params, batch, taps)

    def __getattr__(self, name: str):
        return getattr(self._network, name)


def _own_code(function: types.FunctionType) -> types.FunctionType:
    """The same function with a fresh code object, so that Dynamo caches it on its own."""
    code = function.__code__.replace()
    return types.FunctionType(code, function.__globals__, None, None, function.__closure__)


backend = TorchCompile()
