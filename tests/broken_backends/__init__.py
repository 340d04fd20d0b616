"""Deliberately broken backends: each is a real backend with one known bug swapped in.

Tests register them as plugins of a fake installed distribution (see `install_plugins` in
tests/conftest.py), so the harness finds them through entry points like any third party's.
A bug goes either into the network the backend is handed (a layer's forward and the backward
that autograd would derive from it) or into what the backend's step returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from harness import gradcheck
from harness.layers import Layer
from harness.manual import ManualBackend
from harness.network import Network

NUMPY = ManualBackend(name="numpy", module="numpy", library="numpy")


class Bugged:
    """`base` with a bug in its network and/or its step; everything else is `base`'s."""

    def __init__(
        self,
        name: str,
        base=NUMPY,
        network_bug: Callable[[Network], Network] | None = None,
        step_bug: Callable | None = None,
    ) -> None:
        self.name, self.base = name, base
        self.network_bug, self.step_bug = network_bug, step_bug

    @property
    def library(self) -> str:
        return self.base.library

    @property
    def dtypes(self) -> tuple[str, ...]:
        return self.base.dtypes

    @property
    def strategy(self) -> str:
        return gradcheck.strategy(self.base)

    def availability(self):
        return self.base.availability()

    def numerics(self, dtype: str):
        return self.base.numerics(dtype)

    def from_numpy(self, array, dtype: str):
        return self.base.from_numpy(array, dtype)

    def to_numpy(self, array):
        return self.base.to_numpy(array)

    def make_step(self, network, dtype: str, *, trace: bool = False):
        if self.network_bug:
            network = self.network_bug(network)
        step = self.base.make_step(network, dtype, trace=trace)
        return self.step_bug(step) if self.step_bug else step


def swap_layers(kind: str, broken: Callable[[Layer], Layer]) -> Callable[[Network], Network]:
    """A network bug: every layer of `kind` replaced by `broken(layer)`, labels unchanged."""

    def bug(network: Network) -> Network:
        layers = tuple(broken(layer) if layer.kind == kind else layer for layer in network.layers)
        return dataclasses.replace(network, layers=layers)

    return bug
