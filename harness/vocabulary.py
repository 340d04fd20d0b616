"""The network's vocabulary: every layer and loss kind, declared once, in one registry.

`network.build(layers, loss)` reads its specs through this registry, and so may any tool that
draws or checks networks (a Hypothesis generator, a code generator): a new kind joins all of
them by one declaration here, with its parameter shapes and value ranges, and nothing else.

Interface (a layer spec is a table `{"type": NAME, field: value, ...}`):

- `LAYERS[NAME]` is a `LayerKind`:
  - `label`: its name in traces and reports (`layer 3 (LayerNorm) backward`);
  - `fields`: spec field -> `specs.Field` (type; `valid` values, a `Range` or choices; `draw`,
    the narrower values a generator should draw; `default` or required). A field of type
    `specs.NESTED` holds a nested list of layer specs: the kind is a block, `x + f(x)` over
    that stack, which must give back its input's shape;
  - `params(spec, width)`: parameter stem -> shape, from the spec (defaults filled in) and the
    width of the input's last axis. Each kind numbers its own layers from 1 in reading order,
    so stem `w` of the second linear layer is the parameter `w2`;
  - `draws`: stem -> `Draw`, the uniform range its values should be drawn from;
  - `ranks`: the input ranks it takes, batch axis included (2: (batch, features); 3: (batch,
    sequence, features)); `ids`: it takes integer token ids (and nothing else takes them), in
    `[0, vocab(spec))`; such a kind must be the model's first layer, outside any block;
  - `width_in`: the spec field the width of the input's last axis must equal (None: any
    width); `width_out`: the field that gives the output's width (None: the input's);
    `new_axis`: its output has one more axis than its input (token ids in, vectors out, the
    width `width_out` gives). Every other axis passes through unchanged.
  - `kinks`: input values where its gradient jumps (ReLU: 0): a generator keeps the inputs
    it draws either exactly on a kink or clear of it, where rounding cannot cross it;
    `unstable(x)`: why an input x (NumPy, float64) is one where another library's rounding
    is magnified past any tolerance ('' where it is not): a generator keeps off it too;
  - `make(spec, site)`: the `layers.Layer`, given `Site(index, names, span)`: its index in
    the network's flat list, its parameters' names by stem, and (for a block) how many layers
    of the flat list are its own.
- `LOSSES[NAME]` is a `LossKind`: `fields`, `make(spec)`, `after` (the layer type a generator
  should put last, whose output the loss expects: probabilities, log-probabilities) and
  `targets` ("distribution": each row of y sums to 1; "real": any numbers).
- `OPTIMIZERS[NAME]` is an `OptimizerKind`: `fields` and `make(spec)`, for a task's
  `optimizer = {type = NAME, ...}`; `unstable(spec, grads)`: why first-step gradients
  (NumPy, by parameter name) are ones where another library's rounding moves its step past any
  tolerance ('' where they are not): a generator keeps off them.
- `output_shape(kind, spec, shape)` is the shape a leaf kind gives for an input shape, or a
  ValueError saying why it does not take it; `INPUT_DRAW` is the range float inputs are drawn
  from.

Nothing here imports an array library.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from harness import layers as L
from harness import losses, optimizers
from harness import sequence_layers as S
from harness.specs import NESTED, Field, Range

Shape = tuple[int, ...]


class Draw(NamedTuple):
    """Where a generator draws a parameter's values: uniform in [low, high], both divided by
    sqrt(shape[0]) when `fan_in` (so a wide layer's outputs stay of order one)."""

    low: float
    high: float
    fan_in: bool = False

    def bounds(self, shape: Shape) -> tuple[float, float]:
        scale = 1.0 / math.sqrt(shape[0]) if self.fan_in and shape else 1.0
        return self.low * scale, self.high * scale


INPUT_DRAW = Draw(-2.0, 2.0)
"""Where float inputs (x) are drawn from; token ids are drawn from [0, vocab)."""


class Site(NamedTuple):
    """Where a layer sits: its index in the flat list (the order outputs are computed), its
    parameters' names by stem, and for a block the number of flat layers that are its own."""

    index: int
    names: Mapping[str, str]
    span: int = 0

    @property
    def mask_name(self) -> str:
        """The batch key of this layer's dropout keep-mask."""
        return f"mask.{self.index}"


def _no_params(spec: Mapping[str, Any], width: int | None) -> dict[str, Shape]:
    return {}


@dataclass(frozen=True)
class LayerKind:
    """One layer kind: its spec fields, parameters, and the inputs it takes (see the module)."""

    type: str
    label: str
    what: str
    make: Callable[[Mapping[str, Any], Site], L.Layer]
    fields: Mapping[str, Field] = field(default_factory=dict)
    params: Callable[[Mapping[str, Any], int | None], dict[str, Shape]] = _no_params
    draws: Mapping[str, Draw] = field(default_factory=dict)
    ranks: tuple[int, ...] = (2, 3)
    ids: bool = False
    vocab: Callable[[Mapping[str, Any]], int] | None = None
    width_in: str | None = None
    width_out: str | None = None
    new_axis: bool = False
    kinks: tuple[float, ...] = ()
    unstable: Callable[[Any], str] | None = None

    @property
    def block(self) -> str | None:
        """The field holding a nested layer list (`x + f(x)` over it), if this kind has one."""
        return next((name for name, f in self.fields.items() if f.type is NESTED), None)


@dataclass(frozen=True)
class OptimizerKind:
    """One optimizer kind, the task option `optimizer = {type = NAME, ...}`."""

    type: str
    what: str
    make: Callable[[Mapping[str, Any]], optimizers.Optimizer]
    fields: Mapping[str, Field] = field(default_factory=dict)
    unstable: Callable[[Mapping[str, Any], Mapping[str, Any]], str] | None = None


@dataclass(frozen=True)
class LossKind:
    """One loss kind: its spec fields and what it expects before it (see the module)."""

    type: str
    what: str
    make: Callable[[Mapping[str, Any]], losses.Loss]
    fields: Mapping[str, Field] = field(default_factory=dict)
    after: str | None = None
    targets: str = "real"


def output_shape(kind: LayerKind, spec: Mapping[str, Any], shape: Shape) -> Shape:
    """The output shape of a leaf layer for an input of `shape` (batch axis first), or a
    ValueError naming what does not fit."""
    if len(shape) not in kind.ranks:
        ranks = " or ".join(map(str, kind.ranks))
        raise ValueError(f"{kind.label} takes input of rank {ranks}, not {shape}")
    if kind.new_axis:
        return (*shape, spec[kind.width_out])
    if kind.width_in is not None and shape[-1] != spec[kind.width_in]:
        raise ValueError(f"{kind.label} takes {spec[kind.width_in]} features, not {shape[-1]}")
    return (*shape[:-1], spec[kind.width_out] if kind.width_out else shape[-1])


# ---- the declarations ----


def _alike_positions(x: Any) -> str:
    """Attention on a sequence whose positions are all alike (one token id everywhere) has
    scores that cannot depend on its query and key weights: their gradient is 0 by symmetry,
    exactly in NumPy and rounding noise in torch, which training then carries on."""
    if x.shape[1] > 1 and (abs(x - x[:, :1]).max(axis=(1, 2)) == 0).any():
        return "a sequence of its input has every position alike"
    return ""


FLAT_ROW = 1e-2
"""A row whose standard deviation is under this share of its largest magnitude is flat."""


def _flat_rows(x: Any) -> str:
    """LayerNorm divides x - mean by the row's standard deviation: on a (nearly) constant row
    that is rounding noise over about sqrt(eps), which libraries that round x - mean otherwise
    (torch's fused x * rstd - mean * rstd) leave up to 1/sqrt(eps) times larger."""
    spread, largest = x.std(axis=-1), abs(x).max(axis=-1)
    if (spread >= FLAT_ROW * largest).all():
        return ""
    return f"a row of its input is flat (its standard deviation under {FLAT_ROW:g} of its maximum)"


WIDTH = Field(int, Range(1), draw=Range(1, 64))
"""A layer width: any positive integer in a case file; 1 to 64 when drawn."""
UNIT_OPEN = Range(0.0, 1.0, open_low=True, open_high=True)
PROJECTIONS = ("wq", "wk", "wv", "wo")
"""Attention's parameter stems: query, key, value and output projections, each (dim, dim)."""

LAYERS: Mapping[str, LayerKind] = MappingProxyType(
    {
        kind.type: kind
        for kind in (
            LayerKind(
                "linear",
                "Linear",
                "y = x @ w (+ b), w laid out (in, out)",
                make=lambda spec, site: L.linear(site.names["w"], site.names.get("b")),
                fields={"in": WIDTH, "out": WIDTH, "bias": Field(bool, default=False)},
                params=lambda spec, width: {
                    "w": (spec["in"], spec["out"]),
                    **({"b": (spec["out"],)} if spec["bias"] else {}),
                },
                draws={"w": Draw(-1.0, 1.0, fan_in=True), "b": Draw(-0.5, 0.5)},
                width_in="in",
                width_out="out",
            ),
            LayerKind(
                "relu",
                "ReLU",
                "max(x, 0), gradient 0 at 0",
                lambda spec, site: L.relu(),
                kinks=(0.0,),
            ),
            LayerKind("sigmoid", "Sigmoid", "1 / (1 + exp(-x))", lambda spec, site: L.sigmoid()),
            LayerKind(
                "dropout",
                "Dropout",
                "inverted dropout; its keep-mask arrives as data (`mask.<index>`)",
                make=lambda spec, site: L.dropout(spec["p"], site.mask_name),
                fields={"p": Field(float, Range(0.0, 1.0, open_high=True), Range(0.0, 0.9))},
            ),
            LayerKind(
                "softmax",
                "Softmax",
                "softmax over the last axis, max-subtracted",
                lambda spec, site: L.softmax(),
            ),
            LayerKind("tanh", "Tanh", "tanh(x)", lambda spec, site: L.tanh()),
            LayerKind(
                "gelu",
                "GELU",
                "GELU, tanh approximation (torch's approximate='tanh'; the standard has no erf)",
                lambda spec, site: L.gelu(),
            ),
            LayerKind(
                "layer_norm",
                "LayerNorm",
                "normalise the last axis (biased variance), scale by gamma, shift by beta",
                make=lambda spec, site: L.layer_norm(
                    site.names["gamma"], site.names["beta"], spec["eps"]
                ),
                fields={"size": WIDTH, "eps": Field(float, UNIT_OPEN, Range(1e-6, 1e-3))},
                params=lambda spec, width: {"gamma": (spec["size"],), "beta": (spec["size"],)},
                draws={"gamma": Draw(0.5, 1.5), "beta": Draw(-0.5, 0.5)},
                width_in="size",
                unstable=_flat_rows,
            ),
            LayerKind(
                "log_softmax",
                "LogSoftmax",
                "log-softmax over the last axis, max-subtracted",
                lambda spec, site: L.log_softmax(),
            ),
            LayerKind(
                "residual",
                "Residual",
                "x + f(x), f the stack of `layers` (numbered before the residual itself)",
                make=lambda spec, site: L.residual(site.span),
                fields={"layers": Field(NESTED)},
            ),
            LayerKind(
                "embedding",
                "Embedding",
                "integer token ids (batch, sequence) to rows of a (vocab, dim) table",
                make=lambda spec, site: S.embedding(site.names["emb"]),
                fields={"vocab": WIDTH, "dim": WIDTH},
                params=lambda spec, width: {"emb": (spec["vocab"], spec["dim"])},
                draws={"emb": Draw(-1.0, 1.0)},
                ranks=(2,),
                ids=True,
                vocab=lambda spec: spec["vocab"],
                width_out="dim",
                new_axis=True,
            ),
            LayerKind(
                "attention",
                "Attention",
                "single-head scaled dot-product self-attention over (batch, sequence, dim)",
                make=lambda spec, site: S.attention(
                    *(site.names[stem] for stem in PROJECTIONS), spec["dim"], spec["causal"]
                ),
                fields={"dim": WIDTH, "causal": Field(bool)},
                params=lambda spec, width: {
                    stem: (spec["dim"], spec["dim"]) for stem in PROJECTIONS
                },
                draws={stem: Draw(-1.0, 1.0, fan_in=True) for stem in PROJECTIONS},
                ranks=(3,),
                width_in="dim",
                unstable=_alike_positions,
            ),
        )
    }
)
"""Every layer kind, by its spec `type`."""

REDUCTION = Field(str, losses.REDUCTIONS, doc="sum or mean over rows")

LOSSES: Mapping[str, LossKind] = MappingProxyType(
    {
        kind.type: kind
        for kind in (
            LossKind(
                "cross_entropy",
                "-sum(t * log(p + eps)) on probabilities, as the seeds write it",
                make=lambda spec: losses.cross_entropy(spec["reduction"], spec["eps"]),
                fields={
                    "reduction": REDUCTION,
                    "eps": Field(float, UNIT_OPEN, (1e-7,)),
                },
                after="softmax",
                targets="distribution",
            ),
            LossKind(
                "squared_error",
                "sum((pred - y)**2)",
                make=lambda spec: losses.squared_error(spec["reduction"]),
                fields={"reduction": REDUCTION},
            ),
            LossKind(
                "nll",
                "-sum(y * logp) on log-probabilities: the negative log-likelihood",
                make=lambda spec: losses.nll(spec["reduction"]),
                fields={"reduction": REDUCTION},
                after="log_softmax",
                targets="distribution",
            ),
        )
    }
)
"""Every loss kind, by its spec `type`."""

NEAR_ZERO = 1e-6
"""A gradient whose largest element is under this share of the largest of all is about 0."""
ROUNDING_64 = 1e-15
"""How far another library's float64 rounding may move a gradient element: this share of the
largest element of all (sums in another order: the bound is norm-wise, not elementwise)."""
STEP_ERROR = 1e-12
"""The most that rounding may move Adam's first step, relative to lr: 1/100 of float64's rtol."""


def _adam_unstable(spec: Mapping[str, Any], grads: Mapping[str, Any]) -> str:
    """Adam's first step is lr g / (|g| + eps), whose slope at g is eps / (|g| + eps)**2: up
    to 1/eps at a small element. Another library's rounding there (ROUNDING_64 of the largest
    element) moves the step by more than float64's tolerance, which the harness's probes, run
    on NumPy alone, cannot see. Exact zeros are exact in every library (a ReLU's mask), unless
    a whole gradient is about 0 (a symmetry, one token id everywhere, that one library's
    rounding keeps and another's breaks)."""
    largest = {name: float(abs(g).max(initial=0.0)) for name, g in grads.items()}
    most = max(largest.values(), default=0.0)
    for name, value in largest.items():
        if value <= NEAR_ZERO * most:
            return f"grad.{name} is within {NEAR_ZERO:g} of 0, relative to the largest gradient"
    eps, noise = spec["eps"], ROUNDING_64 * most
    for name, g in grads.items():
        small = abs(g)[g != 0]
        slope = float((eps / (small + eps) ** 2).max(initial=0.0))
        if noise * slope > STEP_ERROR:
            return f"grad.{name} has an element small enough for rounding to move Adam's step"
    return ""


LR = Field(float, Range(0.0, 10.0, open_low=True), Range(1e-4, 0.5))
"""A learning rate: positive and at most 10 (more is a typo that trains to inf)."""
DECAY = Field(float, Range(0.0, 1.0, open_high=True), Range(0.5, 0.999))

OPTIMIZERS: Mapping[str, OptimizerKind] = MappingProxyType(
    {
        "sgd": OptimizerKind(
            "sgd", "p - lr * g", lambda spec: optimizers.SGD(spec["lr"]), {"lr": LR}
        ),
        "adam": OptimizerKind(
            "adam",
            "Adam with bias correction, eps added to the corrected sqrt(v) (as torch)",
            lambda spec: optimizers.Adam(spec["lr"], spec["beta1"], spec["beta2"], spec["eps"]),
            {
                "lr": LR,
                "beta1": DECAY,
                "beta2": DECAY,
                "eps": Field(float, UNIT_OPEN, Range(1e-8, 1e-6)),
            },
            unstable=_adam_unstable,
        ),
    }
)
"""Every optimizer kind, by its `type`."""
