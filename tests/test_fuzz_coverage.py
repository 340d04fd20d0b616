"""The fuzzer draws every kind the vocabulary declares, and only from the declarations: a kind
that declares nothing to draw is a GeneratorGap, and a new kind joins by declaring itself."""

from __future__ import annotations

from collections import Counter
from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import seed as seeded

from harness import layers as L
from harness import vocabulary as V
from harness.assembly import assemble
from harness.fuzz import draw
from harness.fuzz.example import Example, specs, walk

SAMPLES = 300


def drawn(count: int = SAMPLES) -> list[Example]:
    found: list[Example] = []

    @seeded(0)
    @settings(max_examples=count, database=None, deadline=None)
    @given(draw.examples())
    def collect(example):
        found.append(example)

    collect()
    return found


@pytest.fixture(scope="module")
def many() -> list[Example]:
    return drawn()


def test_every_layer_loss_and_optimizer_kind_is_drawn(many):
    layers = Counter(layer.spec["type"] for ex in many for layer in walk(ex.layers))
    losses = Counter(ex.loss["type"] for ex in many)
    rules = Counter(ex.task.get("optimizer", {}).get("type") for ex in many)
    assert set(layers) == set(V.LAYERS), set(V.LAYERS) - set(layers)
    assert set(losses) == set(V.LOSSES)
    assert set(rules) - {None} == set(V.OPTIMIZERS)


def test_inputs_tasks_and_batches_cover_the_edges(many):
    rows = {ex.x.shape[0] for ex in many}
    assert 1 in rows and any(r % 8 == 0 for r in rows) and any(r > 8 and r % 8 for r in rows)
    kinds = {("ids" if ex.x.dtype.kind in "iu" else "floats", ex.x.ndim) for ex in many}
    assert {("ids", 2), ("floats", 2), ("floats", 3)} <= kinds
    assert {ex.task["kind"] for ex in many} == {"gradient", "train"}
    params = [v for ex in many for layer in walk(ex.layers) for v in layer.params.values()]
    assert any(np.all(v < 0) and v.size > 1 for v in params)  # one sign
    assert any(np.any(v == 0) for v in params)  # exact zeros
    assert any(np.max(np.abs(v)) > 1.5 for v in params)  # the large regime


def test_each_kind_declares_what_the_generator_reads():
    """Every parameter has a value range, every field something to draw from."""
    for kind in V.LAYERS.values():
        spec = {"type": kind.type}
        for name, field in kind.fields.items():
            drawn = field.drawn
            ok = field.type == "layers" or drawn  # a block's list, or a range or choices
            assert ok, f"{kind.type}.{name} declares nothing to draw"
            spec[name] = 4 if field.type is int else drawn[0] if drawn else None
        assert set(kind.params(spec, 4)) <= set(kind.draws), kind.type


def scale_kind(draws: dict) -> V.LayerKind:
    """A kind the vocabulary does not have: y = x * s, s of the input's width."""

    def make(spec, site):
        name = site.names["s"]

        def forward(xp, params, x, data):
            return x * params[name], x

        def backward(xp, params, x, dy):
            return dy * params[name], {name: xp.sum(L.rows_of(xp, dy * x), axis=0)}

        return L.Layer("Scale", (name,), forward, backward)

    return V.LayerKind(
        "scale",
        "Scale",
        "x * s",
        make,
        fields={"size": V.WIDTH},
        params=lambda spec, width: {"s": (spec["size"],)},
        draws=draws,
        width_in="size",
    )


def test_a_new_kind_joins_by_declaring_itself(monkeypatch):
    kind = scale_kind({"s": V.Draw(-2.0, 2.0)})
    monkeypatch.setattr(V, "LAYERS", MappingProxyType({**V.LAYERS, "scale": kind}))
    examples = drawn(150)
    with_scale = [ex for ex in examples if any(layer.spec["type"] == "scale"
                                               for layer in walk(ex.layers))]  # fmt: skip
    assert with_scale
    network = assemble(specs(with_scale[0].layers), with_scale[0].loss)
    assert any(layer.kind == "Scale" for layer in network.layers)


def test_a_kind_that_declares_no_range_for_a_parameter_is_a_generator_gap(monkeypatch):
    kind = scale_kind({})
    monkeypatch.setattr(V, "LAYERS", MappingProxyType({**V.LAYERS, "scale": kind}))
    with pytest.raises(draw.GeneratorGap, match="scale: no `draws` range for parameter s"):
        drawn(150)
