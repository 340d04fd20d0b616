"""A network is data: a list of layer specs and a loss spec, built into pure functions.

Two ways to get gradients share this one forward:
- `manual_step` runs each layer's hand-written backward, on any Array-API namespace;
- `objective` is the scalar function an autograd library differentiates. Its optional
  `taps` (zeros added to each layer's output) make d loss / d activation come out of
  autograd too, so every strategy can expose the same named trace.

Trace names, in the order the harness compares them: "layer 0 (Linear) output", ..., "loss",
then going backwards "layer N (Softmax) output grad", "grad.w2", ... down to layer 0.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness import layers as L
from harness import losses
from harness.protocol import StepResult

Array = Any


class SpecError(ValueError):
    """A layer or loss spec is malformed; `field` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Network:
    layers: tuple[L.Layer, ...]
    loss: losses.Loss
    param_shapes: dict[str, tuple[int, ...]]
    in_features: int
    out_features: int

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
            (layer.mask_name, self._width_at(i), layer.rate)
            for i, layer in enumerate(self.layers)
            if layer.mask_name
        ]

    def _width_at(self, index: int) -> int:
        width = self.in_features
        for layer in self.layers[:index]:
            if layer.kind == "Linear":
                width = self.param_shapes[layer.param_names[0]][1]
        return width

    def forward(self, xp, params, data, taps: Sequence[Array] | None = None):
        """Run every layer; return the output, what each backward needs, and activations."""
        x = data["x"]
        saved, activations = [], []
        for i, layer in enumerate(self.layers):
            x, keep = layer.forward(xp, params, x, data)
            if taps is not None:
                x = x + taps[i]
            saved.append(keep)
            activations.append(x)
        return x, saved, activations

    def objective(self, xp, params, data, taps: Sequence[Array] | None = None):
        """The scalar loss, with (output, activations) as auxiliary data, for autograd."""
        output, _, activations = self.forward(xp, params, data, taps)
        value, _ = self.loss.forward(xp, output, data["y"])
        return value, (output, activations)

    def manual_step(self, xp, params, data, trace: bool = False) -> StepResult:
        """Forward, then each layer's hand-written backward in reverse order."""
        output, saved, activations = self.forward(xp, params, data)
        value, loss_saved = self.loss.forward(xp, output, data["y"])
        dy = self.loss.backward(xp, loss_saved)
        grads: dict[str, Array] = {}
        output_grads = [None] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            output_grads[i] = dy
            dy, layer_grads = self.layers[i].backward(xp, params, saved[i], dy)
            grads.update(layer_grads)
        named = self.trace(activations, value, output_grads, grads) if trace else {}
        return StepResult(value, grads, output, named)

    def trace(self, activations, value, output_grads, grads) -> dict[str, Array]:
        """Name every intermediate, forward in order and then backward in reverse."""
        named = {f"{self.label(i)} output": a for i, a in enumerate(activations)}
        named["loss"] = value
        for i in reversed(range(len(self.layers))):
            named[f"{self.label(i)} output grad"] = output_grads[i]
            for name in self.layers[i].param_names:
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
    """Turn the case file's `layers` and `loss` tables into a Network, or raise SpecError."""
    if not layer_specs:
        raise SpecError("model.layers", "needs at least one layer")
    built: list[L.Layer] = []
    shapes: dict[str, tuple[int, ...]] = {}
    width: int | None = None
    in_features: int | None = None
    n_linear = 0
    for i, spec in enumerate(layer_specs):
        where = f"model.layers[{i}]"
        if isinstance(spec, Mapping) and "type" not in spec:  # `typ = "relu"` is named
            reject_unknown(spec, _any_of(LAYER_FIELDS), where)
        kind = _field(spec, "type", str, where)
        if kind in LAYER_FIELDS:  # an unknown type is reported below, by name
            reject_unknown(spec, LAYER_FIELDS[kind], where)
        if kind == "linear":
            n_linear += 1
            layer, width = _linear(spec, where, width, n_linear, shapes)
            in_features = in_features or shapes[layer.param_names[0]][0]
        elif kind in ("relu", "sigmoid", "softmax"):
            layer = {"relu": L.relu, "sigmoid": L.sigmoid, "softmax": L.softmax}[kind]()
        elif kind == "dropout":
            p = _field(spec, "p", (int, float), where)
            if not 0.0 <= p < 1.0:
                raise SpecError(f"{where}.p", f"must be in [0, 1), got {p}")
            layer = L.dropout(float(p), f"mask.{i}")
        else:
            known = "linear, relu, sigmoid, dropout, softmax"
            raise SpecError(f"{where}.type", f"unknown layer {kind!r} (known: {known})")
        built.append(layer)
    if in_features is None or width is None:
        raise SpecError("model.layers", "needs at least one linear layer")
    return Network(tuple(built), _loss(loss_spec), shapes, in_features, width)


def _linear(spec, where, width, number, shapes):
    n_in = _field(spec, "in", int, where)
    n_out = _field(spec, "out", int, where)
    if n_in < 1 or n_out < 1:
        raise SpecError(where, f"in and out must be positive, got in={n_in} out={n_out}")
    if width is not None and n_in != width:
        raise SpecError(f"{where}.in", f"is {n_in} but the previous linear layer gives {width}")
    bias = spec.get("bias", False)
    if not isinstance(bias, bool):
        raise SpecError(f"{where}.bias", f"must be true or false, got {bias!r}")
    weight, bias_name = f"w{number}", (f"b{number}" if bias else None)
    shapes[weight] = (n_in, n_out)
    if bias_name:
        shapes[bias_name] = (n_out,)
    return L.linear(weight, bias_name), n_out


def _loss(spec: Mapping[str, Any]) -> losses.Loss:
    if isinstance(spec, Mapping) and "type" not in spec:
        reject_unknown(spec, _any_of(LOSS_FIELDS), "model.loss")
    kind = _field(spec, "type", str, "model.loss")
    if kind in LOSS_FIELDS:
        reject_unknown(spec, LOSS_FIELDS[kind], "model.loss")
    reduction = _field(spec, "reduction", str, "model.loss")
    if reduction not in losses.REDUCTIONS:
        raise SpecError("model.loss.reduction", f"must be sum or mean, got {reduction!r}")
    if kind == "cross_entropy":
        eps = _field(spec, "eps", (int, float), "model.loss")
        if not 0.0 < eps < 1.0:
            raise SpecError("model.loss.eps", f"must be in (0, 1), got {eps}")
        return losses.cross_entropy(reduction, float(eps))
    if kind == "squared_error":
        return losses.squared_error(reduction)
    raise SpecError(
        "model.loss.type", f"unknown loss {kind!r} (known: cross_entropy, squared_error)"
    )


def reject_unknown(spec: Any, known: Sequence[str], where: str) -> None:
    """A misspelt field (`epoch = 100`) must not be silently ignored: name it, and the known."""
    if isinstance(spec, Mapping) and (unknown := [k for k in spec if k not in known]):
        prefix = f"{where}." if where else ""
        raise SpecError(f"{prefix}{unknown[0]}", f"unknown field (known: {', '.join(known)})")


LAYER_FIELDS = {
    "linear": ("type", "in", "out", "bias"),
    "dropout": ("type", "p"),
    "relu": ("type",),
    "sigmoid": ("type",),
    "softmax": ("type",),
}


def _any_of(fields_by_type: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for fields in fields_by_type.values() for f in fields))


LOSS_FIELDS = {
    "cross_entropy": ("type", "reduction", "eps"),
    "squared_error": ("type", "reduction"),
}


def _field(spec: Mapping[str, Any], key: str, kind, where: str):
    if not isinstance(spec, Mapping):
        raise SpecError(where, f"must be a table, got {type(spec).__name__}")
    if key not in spec:
        raise SpecError(f"{where}.{key}", "missing")
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise SpecError(f"{where}.{key}", f"has the wrong type: {value!r}")
    return value
