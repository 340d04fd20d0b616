"""A network is data: a list of layer specs and a loss spec, built into pure functions.

Two ways to get gradients share this one forward:
- `manual_step` runs each layer's hand-written backward, on any Array-API namespace;
- `objective` is the scalar function an autograd library differentiates. Its optional
  `taps` (zeros added to each layer's output) make d loss / d activation come out of
  autograd too, so every strategy can expose the same named trace.

Layers sit in one flat list, numbered in the order their outputs are computed: a residual's
own layers come first, then the residual itself (its output, x + f(x)); a residual's `span`
says how many layers before it are its own. Trace names, in the order the harness compares
them: "layer 0 (Linear) output", ..., "loss", then going backwards "layer N (Softmax) output
grad", "grad.w2", ... down to layer 0. A residual r whose layers start at layer j > 0 adds
"layer r (Residual) branch grad" after layer j's gradients: the gradient its layers send back
to their input, before the skip's is added (a residual at layer 0 reads the batch's x, which
needs no gradient).
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from harness import layers as L
from harness import losses
from harness.protocol import StepResult
from harness.specs import SpecError, reject_unknown

__all__ = ["Network", "SpecError", "Takes", "build", "reject_unknown"]

Array = Any


class Takes(NamedTuple):
    """The inputs a network takes: their ranks (batch axis included), and whether they are
    integer token ids in [0, vocab) rather than floats."""

    ranks: tuple[int, ...] = (2, 3)
    ids: bool = False
    vocab: int | None = None


@dataclass(frozen=True)
class Network:
    layers: tuple[L.Layer, ...]
    loss: losses.Loss
    param_shapes: dict[str, tuple[int, ...]]
    in_features: int | None
    """The width of x's last axis; None when x holds token ids."""
    out_features: int
    takes: Takes = field(default_factory=Takes)
    widths: tuple[int, ...] = ()
    """Each layer's input width (the last axis), in the flat list's order."""

    @property
    def signature(self) -> tuple:
        """What a compiled step depends on: each layer's and the loss's code and settings, and
        the parameter shapes. Networks with one signature compute one function of (params,
        batch), so a backend may reuse the step it compiled for one on the other."""
        shapes = tuple(sorted(self.param_shapes.items()))
        return _fingerprint(self.layers), _fingerprint(self.loss), shapes

    def label(self, index: int) -> str:
        return f"layer {index} ({self.layers[index].kind})"

    @property
    def mask_layers(self) -> list[tuple[str, int, float]]:
        """(batch key, width, drop rate) of every dropout mask a step needs, in layer order."""
        return [
            (layer.mask_name, self.widths[i], layer.rate)
            for i, layer in enumerate(self.layers)
            if layer.mask_name
        ]

    def masks(self, x_shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...], float]]:
        """(batch key, shape, drop rate) of every dropout mask for a batch x of `x_shape`."""
        lead = tuple(x_shape) if self.takes.ids else tuple(x_shape[:-1])
        return [(name, (*lead, width), rate) for name, width, rate in self.mask_layers]

    def output_shape(self, x_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The output's shape for an x of `x_shape`, or a ValueError saying what it takes."""
        takes, shape = self.takes, tuple(x_shape)
        if len(shape) not in takes.ranks or not (takes.ids or shape[-1] == self.in_features):
            raise ValueError(f"shape {shape}, model takes {self.describe_input()}")
        return (*(shape if takes.ids else shape[:-1]), self.out_features)

    def describe_input(self) -> str:
        """`(batch, 3) or (batch, sequence, 3)`, or `(batch, sequence) token ids in [0, 10)`."""
        axes = {1: "(batch)", 2: "(batch, sequence)"}
        if self.takes.ids:
            shapes = " or ".join(axes[r] for r in self.takes.ranks)
            return f"{shapes} token ids in [0, {self.takes.vocab})"
        lead = {2: "batch", 3: "batch, sequence"}
        return " or ".join(f"({lead[r]}, {self.in_features})" for r in self.takes.ranks)

    @cached_property
    def _branches(self) -> tuple[tuple[int, ...], ...]:
        """For each layer j: the residuals whose own layers start at j, outermost first."""
        starts: list[list[int]] = [[] for _ in self.layers]
        for r, layer in enumerate(self.layers):
            if layer.span:
                starts[r - layer.span].insert(0, r)
        return tuple(tuple(s) for s in starts)

    @cached_property
    def points(self) -> tuple[tuple[str, int], ...]:
        """What autograd taps, in the order the forward computes it: ("output", i) for layer
        i's output, ("branch", r) for the input residual r hands its own layers (not at 0)."""
        found: list[tuple[str, int]] = []
        for j in range(len(self.layers)):
            found += [("branch", r) for r in self._branches[j] if j]
            found.append(("output", j))
        return tuple(found)

    def gradient_source(self, index: int, branch: bool = False) -> int | None:
        """The layer whose backward gives the gradient of layer `index`'s output (with
        `branch`, of residual `index`'s branch input); None for the loss's backward."""
        if branch:
            start = index - self.layers[index].span
            within = self._branches[start]
            inner = within[within.index(index) + 1 :]
            return inner[0] if inner else start
        after = index + 1
        if after == len(self.layers):
            return None
        return self._branches[after][0] if self._branches[after] else after

    def forward(self, xp, params, data, taps: Sequence[Array] | None = None):
        """Run every layer; return the output, what each backward needs, and what `points`
        names (each layer's output, and each residual's branch input), in order."""
        x = data["x"]
        given = iter(taps) if taps is not None else None
        saved, activations, skips = [], [], []

        def tap(value):
            if given is not None:
                value = value + next(given)
            activations.append(value)
            return value

        for j, layer in enumerate(self.layers):
            for _ in self._branches[j]:
                skips.append(x)
                x = tap(x) if j else x
            inputs = (skips.pop(), x) if layer.span else x
            x, keep = layer.forward(xp, params, inputs, data)
            saved.append(keep)
            x = tap(x)
        return x, saved, activations

    def objective(self, xp, params, data, taps: Sequence[Array] | None = None):
        """The scalar loss, with (output, activations) as auxiliary data, for autograd."""
        output, _, activations = self.forward(xp, params, data, taps)
        value, _ = self.loss.forward(xp, output, data["y"])
        return value, (output, activations)

    def manual_step(self, xp, params, data, trace: bool = False) -> StepResult:
        """Forward, then each layer's hand-written backward in reverse order; at the start
        of a residual's layers, the skip's gradient joins theirs."""
        output, saved, activations = self.forward(xp, params, data)
        value, loss_saved = self.loss.forward(xp, output, data["y"])
        dy = self.loss.backward(xp, loss_saved)
        grads: dict[str, Array] = {}
        point_grads: dict[tuple[str, int], Array] = {}
        skips: list[Array] = []
        for j in reversed(range(len(self.layers))):
            point_grads["output", j] = dy
            dy, layer_grads = self.layers[j].backward(xp, params, saved[j], dy)
            if self.layers[j].span:
                skip, dy = dy
                skips.append(skip)
            grads.update(layer_grads)
            for r in reversed(self._branches[j]):
                point_grads["branch", r] = dy
                skip = skips.pop()
                dy = skip if dy is None else skip + dy
        if not trace:
            return StepResult(value, grads, output)
        in_order = [point_grads[point] for point in self.points]
        return StepResult(value, grads, output, self.trace(activations, value, in_order, grads))

    def trace(self, activations, value, output_grads, grads) -> dict[str, Array]:
        """Name every intermediate, forward in order and then backward in reverse; both
        lists follow `points`."""
        named = {
            f"{self.label(i)} output": a
            for (role, i), a in zip(self.points, activations, strict=True)
            if role == "output"
        }
        named["loss"] = value
        for (role, i), grad in reversed(list(zip(self.points, output_grads, strict=True))):
            named[f"{self.label(i)} {role} grad"] = grad
            for name in self.layers[i].param_names if role == "output" else ():
                named[f"grad.{name}"] = grads[name]
        return named


def _fingerprint(value: Any) -> Any:
    """A hashable stand-in for a spec: functions by their code and the values they close
    over; any other object by identity (never equal to another's, so never reused wrongly)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, tuple | list):
        return tuple(_fingerprint(v) for v in value)
    if isinstance(value, types.FunctionType):
        try:
            closed = tuple(_fingerprint(c.cell_contents) for c in value.__closure__ or ())
        except ValueError:  # an empty cell
            return ("object", id(value))
        return value.__code__, closed
    return ("object", id(value))


def build(layer_specs: Sequence[Mapping[str, Any]], loss_spec: Mapping[str, Any]) -> Network:
    """Turn the case file's `layers` and `loss` tables into a Network, or raise SpecError.

    Every kind and field comes from `harness.vocabulary`; see `harness.assembly`."""
    from harness.assembly import assemble

    return assemble(layer_specs, loss_spec)
