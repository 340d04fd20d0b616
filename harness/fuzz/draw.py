"""Hypothesis strategies for whole examples, read from the vocabulary's declarations only.

Every kind comes from `harness.vocabulary`: which kinds take which input ranks, which field
fixes or sets the width, what each field may be drawn from (`Field.drawn`), each parameter's
shape (`params`) and value range (`draws`), what a loss expects before it (`after`) and as
targets (`targets`), and each optimizer's fields. A kind added there is drawn here with no
change to this module. What is the generator's own: how deep, how many rows, and the value
regimes, each applied to a declared range (uniform, a coarse grid that makes ties and exact
zeros, zeros mixed in, one sign, and LARGE times the range, which saturates and makes large
logits). Values keep six significant digits, so that a case file holds them exactly.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from harness import vocabulary as V
from harness.assembly import assemble
from harness.fuzz.example import Example, Layer, specs
from harness.specs import NESTED, Range

MAX_DEPTH = 8
"""Layers drawn at the top level (the loss's `after` layer may add one)."""
MAX_INNER = 3
"""Layers drawn inside a block (a projection back to its width may add one)."""
MAX_NESTING = 2
ROWS = (1, 20)
"""Batch rows: 1 and beyond, multiples of 8 and not."""
SEQUENCE = (1, 6)
MAX_STEPS = 6
"""A train task takes at most this many steps (epochs x batches)."""
REGIMES = ("uniform", "grid", "zeros", "positive", "negative", "large")
LARGE = 5.0
GRID = 8
"""A grid regime draws from GRID + 1 evenly spaced values of the range, its midpoint
included: ties, and (for a range around 0) exact zeros."""
ZEROS = 0.4
"""The share of exact zeros in the zeros regime."""


class GeneratorGap(LookupError):
    """A kind declares something the generator cannot draw (a field with no range)."""


@st.composite
def examples(draw) -> Example:
    """A network from the vocabulary, its parameters, inputs, targets and task."""
    rows = draw(st.integers(*ROWS))
    sequence = draw(st.integers(*SEQUENCE))
    layers: list[Layer] = []
    ids_kinds = [k for k in V.LAYERS.values() if k.ids]
    if ids_kinds and draw(st.integers(0, 3)) == 0:
        kind = draw(st.sampled_from(ids_kinds))
        first = _leaf(draw, kind, None)
        layers.append(first)
        rank, width = max(kind.ranks) + kind.new_axis, first.spec[kind.width_out]
        x = _ids(draw, (rows, sequence)[: max(kind.ranks)], kind.vocab(first.spec))
    else:
        ranks = sorted({r for k in _kinds() if not k.ids for r in k.ranks})
        rank, width = draw(st.sampled_from(ranks)), _integer(draw, V.WIDTH.drawn)
        lead = (rows, sequence)[: rank - 1]
        x = _values(draw, (*lead, width), V.INPUT_DRAW)
    layers += _stack(draw, draw(st.integers(1, MAX_DEPTH)), rank, width, 0)
    if x.dtype.kind not in "iu" and not any(k.kind.width_in for k in _flat(layers)):
        fixers = [k for k in _kinds() if k.width_in and not k.ids and rank in k.ranks]
        layers.insert(0, _leaf(draw, draw(st.sampled_from(fixers)), width))
    loss_kind = draw(st.sampled_from(sorted(V.LOSSES.values(), key=lambda k: k.after or "")))
    loss = {"type": loss_kind.type, **_fields(draw, loss_kind.fields, None, None)}
    if loss_kind.after and layers[-1].spec["type"] != loss_kind.after:
        layers.append(_leaf(draw, V.LAYERS[loss_kind.after], _width(layers, width)))
    network = assemble(specs(tuple(layers)), loss)
    out_shape = network.output_shape(x.shape)
    y = _targets(draw, loss_kind, out_shape)
    task = _task(draw, rows, bool(network.mask_layers))
    return Example(tuple(layers), loss, x, y, task)


def _kinds() -> list[V.LayerKind]:
    return list(V.LAYERS.values())


def _flat(layers):
    for layer in layers:
        yield from _flat(layer.inner)
        yield layer


def _stack(draw, count: int, rank: int, width: int, nesting: int) -> list[Layer]:
    """`count` layers on an input of `rank` and last-axis `width`."""
    layers = []
    for _ in range(count):
        eligible = [
            k
            for k in _kinds()
            if not k.ids and rank in k.ranks and not k.new_axis
            and (k.block is None or nesting < MAX_NESTING)
        ]  # fmt: skip
        working = [k for k in eligible if k.draws or k.block]
        plain = [k for k in eligible if k not in working]
        group = draw(st.sampled_from([g for g in (working, plain) if g]))
        kind = draw(st.sampled_from(group))
        layer = _block(draw, kind, rank, width, nesting) if kind.block else _leaf(draw, kind, width)
        layers.append(layer)
        width = _width([layer], width)
    return layers


def _width(layers: list[Layer], width: int) -> int:
    """The last axis's width after `layers`."""
    for layer in layers:
        out = layer.kind.width_out
        if out and not layer.inner:
            width = layer.spec[out]
    return width


def _block(draw, kind: V.LayerKind, rank: int, width: int, nesting: int) -> Layer:
    """x + f(x): its own layers, and if they change the width, one more that sets it back."""
    inner = _stack(draw, draw(st.integers(1, MAX_INNER)), rank, width, nesting + 1)
    if _width(inner, width) != width:
        back = [
            k
            for k in _kinds()
            if k.width_in and k.width_out and not k.new_axis and not k.ids and rank in k.ranks
        ]
        inner.append(_leaf(draw, draw(st.sampled_from(back)), _width(inner, width), width))
    fields = {k: f for k, f in kind.fields.items() if f.type is not NESTED}
    spec = {"type": kind.type, **_fields(draw, fields, kind, width)}
    return Layer(spec, {}, tuple(inner))


def _leaf(draw, kind: V.LayerKind, width: int | None, out: int | None = None) -> Layer:
    """A layer of `kind` on an input of `width`, its fields and parameters drawn (`out`:
    the output width it must have)."""
    spec = {"type": kind.type, **_fields(draw, kind.fields, kind, width)}
    if out is not None:
        spec[kind.width_out] = out
    shapes = kind.params(spec, width)
    missing = sorted(set(shapes) - set(kind.draws))
    if missing:
        raise GeneratorGap(f"{kind.type}: no `draws` range for parameter {missing[0]}")
    params = {stem: _values(draw, shape, kind.draws[stem]) for stem, shape in shapes.items()}
    return Layer(spec, params)


def _fields(draw, fields, kind: V.LayerKind | None, width: int | None) -> dict:
    values = {}
    for name, field in fields.items():
        if kind is not None and name == kind.width_in:
            values[name] = width
            continue
        drawn = field.drawn
        if isinstance(drawn, Range) and None not in (drawn.low, drawn.high):
            values[name] = _integer(draw, drawn) if field.type is int else _float(draw, drawn)
        elif isinstance(drawn, tuple) and not isinstance(drawn, Range) and drawn:
            values[name] = draw(st.sampled_from(drawn))
        else:
            where = kind.type if kind else "a loss or optimizer"
            raise GeneratorGap(f"{where}.{name}: its Field declares nothing to draw from")
    return values


def _integer(draw, bounds: Range) -> int:
    return draw(st.integers(math.ceil(bounds.low), math.floor(bounds.high)))


def _float(draw, bounds: Range) -> float:
    value = draw(
        st.floats(bounds.low, bounds.high, exclude_min=bounds.open_low,
                  exclude_max=bounds.open_high)
    )  # fmt: skip
    short = float(f"{value:.4g}")
    return short if short in bounds else value


def _values(draw, shape: tuple[int, ...], declared: V.Draw) -> np.ndarray:
    """Values of `shape` in the declared range, in a drawn regime; six significant digits."""
    regime = draw(st.sampled_from(REGIMES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    low, high = declared.bounds(shape)
    if regime == "positive" and high > 0:
        low = max(low, 0.0)
    if regime == "negative" and low < 0:
        high = min(high, 0.0)
    if regime == "grid":
        values = low + (high - low) / GRID * rng.integers(0, GRID + 1, shape)
    else:
        values = rng.uniform(low, high, shape)
    if regime == "zeros":
        values[rng.random(shape) < ZEROS] = 0.0
    if regime == "large":
        values *= LARGE
    return np.array([float(f"{v:.6g}") for v in values.flat]).reshape(shape)


def _ids(draw, shape: tuple[int, ...], vocab: int) -> np.ndarray:
    """Token ids in [0, vocab): all of them, or a few repeated."""
    high = vocab if draw(st.booleans()) else min(vocab, 2)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(0, high, shape)


def _targets(draw, loss: V.LossKind, shape: tuple[int, ...]) -> np.ndarray:
    """y of the output's shape: one-hot rows for a loss on distributions, else values."""
    if loss.targets != "distribution":
        return _values(draw, shape, V.INPUT_DRAW)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    labels = rng.integers(0, shape[-1], shape[:-1])
    return np.eye(shape[-1])[labels]


def _task(draw, rows: int, dropout: bool) -> dict:
    """The [task] table: a gradient, or a few steps of a drawn optimizer."""
    task: dict = {"kind": draw(st.sampled_from(("gradient", "train")))}
    if task["kind"] == "train":
        epochs = draw(st.integers(1, 2))
        smallest = math.ceil(rows / (MAX_STEPS // epochs))
        task["epochs"] = epochs
        task["batch_size"] = draw(st.integers(smallest, rows))
        kind = draw(st.sampled_from(list(V.OPTIMIZERS.values())))
        task["optimizer"] = {"type": kind.type, **_fields(draw, kind.fields, None, None)}
    if dropout:
        task["dropout_seed"] = draw(st.integers(0, 2**16))
    return task
