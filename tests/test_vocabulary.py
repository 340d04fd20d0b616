"""The registry (harness/vocabulary.py) is the one place a kind is declared: every declaration
is consistent, `network.build` follows it, and a bad spec is one line naming its field."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from harness import vocabulary as V
from harness.network import SpecError, build
from harness.specs import NESTED, Field, Range, check_value


def smallest(field: Field):
    """The first value a generator may draw for a field (a block's layers aside)."""
    drawn = field.drawn
    if isinstance(drawn, Range):
        value = drawn.low if drawn.low is not None else drawn.high
        return int(value) if field.type is int else float(value)
    return drawn[0]


def spec_of(kind: V.LayerKind, width: int = 3) -> dict:
    """A valid spec of `kind` for an input of `width` features, each field at its first draw."""
    spec = {"type": kind.type}
    for name, field in kind.fields.items():
        spec[name] = [{"type": "tanh"}] if field.type is NESTED else smallest(field)
    for name in (kind.width_in, kind.width_out):
        if name:
            spec[name] = width
    return spec


@pytest.mark.parametrize("kind", V.LAYERS.values(), ids=list(V.LAYERS))
def test_each_layer_kind_declares_what_a_generator_needs(kind):
    assert kind.label and kind.what and set(kind.ranks) <= {1, 2, 3}
    for name, field in kind.fields.items():
        drawn = field.drawn
        if isinstance(drawn, Range):
            assert drawn.low in field.valid and drawn.high in field.valid, name
        elif drawn is not None:
            assert all(check_value(value, field, name) == value for value in drawn), name
        if not field.required:
            assert check_value(field.default, field, name) == field.default, name
    if kind.width_in:
        assert kind.fields[kind.width_in].type is int
    if kind.width_in is None and not kind.ids:
        assert kind.width_out is None and not kind.new_axis, "a width-agnostic kind keeps it"
    assert kind.ids == (kind.vocab is not None) == kind.new_axis


@pytest.mark.parametrize("kind", V.LAYERS.values(), ids=list(V.LAYERS))
def test_build_names_and_shapes_each_kinds_parameters_as_declared(kind):
    """A network of two layers of the kind (one if it takes ids), after a linear layer if
    the kind does not fix the input's width itself."""
    first = [] if kind.ids or kind.width_in else [{"type": "linear", "in": 2, "out": 3}]
    repeat = 1 if kind.ids else 2
    network = build(
        [*first, *[spec_of(kind)] * repeat], {"type": "squared_error", "reduction": "sum"}
    )
    shapes = kind.params(spec_of(kind), 3)
    assert set(kind.draws) >= set(shapes), "every parameter has a value range"
    assert all(stem.isalpha() for stem in shapes)
    for number in range(1, repeat + 1):
        for stem, shape in shapes.items():
            assert network.param_shapes[f"{stem}{number}"] == shape
    expected = [f"{stem}{n}" for n in range(1, repeat + 1) for stem in shapes]
    mine = [
        name for layer in network.layers if layer.kind == kind.label for name in layer.param_names
    ]
    assert mine == expected


def test_parameter_stems_are_unique_across_kinds():
    stems = [stem for kind in V.LAYERS.values() for stem in kind.params(spec_of(kind), 3)]
    assert len(stems) == len(set(stems))


def test_output_shape_of_a_leaf_follows_its_declaration():
    linear = V.LAYERS["linear"]
    spec = {"type": "linear", "in": 3, "out": 5, "bias": False}
    assert V.output_shape(linear, spec, (4, 3)) == (4, 5)
    assert V.output_shape(linear, spec, (4, 7, 3)) == (4, 7, 5)
    with pytest.raises(ValueError, match="takes 3 features, not 2"):
        V.output_shape(linear, spec, (4, 2))
    with pytest.raises(ValueError, match="rank 2 or 3"):
        V.output_shape(linear, spec, (3,))


def test_draw_bounds_scale_by_fan_in():
    assert V.Draw(-1.0, 1.0, fan_in=True).bounds((16, 4)) == (-0.25, 0.25)
    assert V.Draw(0.5, 1.5).bounds((16,)) == (0.5, 1.5)


@pytest.mark.parametrize(
    ("layers", "field", "says"),
    [
        ([], "model.layers", "needs at least one layer"),
        ([{"type": "relu"}], "model.layers", "no layer fixes the input's width"),
        ([{"type": "linear", "in": 3, "out": 4}, {"type": "linear", "in": 5, "out": 2}],
         "model.layers[1].in", "is 5 but its input has width 4 (from model.layers[0].out)"),
        ([{"type": "linear", "in": 0, "out": 4}], "model.layers[0].in", "must be >= 1, got 0"),
        ([{"type": "linear", "in": 3, "out": 4.0}], "model.layers[0].out", "wrong type"),
        ([{"type": "dropout", "p": 1}], "model.layers[0].p", "must be in [0, 1), got 1.0"),
        ([{"type": "relu6"}], "model.layers[0].type", "unknown layer 'relu6' (known: linear"),
        ([{"typ": "relu"}], "model.layers[0].typ", "unknown field"),
        (["relu"], "model.layers[0]", "must be a table, got str"),
    ],
)  # fmt: skip
def test_a_bad_layer_spec_is_one_line_naming_the_field(layers, field, says):
    with pytest.raises(SpecError) as raised:
        build(layers, {"type": "squared_error", "reduction": "sum"})
    assert raised.value.field == field
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_a_bad_loss_spec_names_its_field():
    layers = [{"type": "linear", "in": 2, "out": 2}]
    with pytest.raises(SpecError, match=r"^model\.loss\.eps: must be in \(0, 1\), got 2\.0$"):
        build(layers, {"type": "cross_entropy", "reduction": "sum", "eps": 2})
    with pytest.raises(SpecError, match=r"^model\.loss\.type: unknown loss 'hinge'"):
        build(layers, {"type": "hinge", "reduction": "sum"})


def test_a_width_agnostic_first_layer_takes_the_width_the_next_one_fixes():
    network = build(
        [{"type": "dropout", "p": 0.5}, {"type": "linear", "in": 3, "out": 2}],
        {"type": "squared_error", "reduction": "sum"},
    )
    assert (network.in_features, network.out_features) == (3, 2)
    assert network.masks((4, 3)) == [("mask.0", (4, 3), 0.5)]
    assert network.masks((4, 5, 3)) == [("mask.0", (4, 5, 3), 0.5)]
    assert network.output_shape((4, 5, 3)) == (4, 5, 2)
    with pytest.raises(ValueError, match=r"model takes \(batch, 3\) or \(batch, sequence, 3\)"):
        network.output_shape((4, 2))


def test_ranges_say_their_ends():
    assert str(Range(0.0, 1.0, open_high=True)) == "[0, 1)"
    assert Range(1).phrase() == ">= 1"
    assert 1.0 not in Range(0.0, 1.0, open_high=True)
    assert math.nan not in Range() and np.float64(0.5) in Range(0.0, 1.0)


README = Path(__file__).parent.parent / "README.md"


def test_the_readme_layer_table_lists_every_kind():
    """The README's table under "The network" has a row for every declared kind."""
    table = README.read_text().split("## The network", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    for name in V.LAYERS:
        assert any(f'{{"type": "{name}"' in row for row in rows), name
    for name in V.LOSSES:
        assert any(f'loss `{{"type": "{name}"' in row for row in rows), name
    for name in V.OPTIMIZERS:
        assert any(f'type = "{name}"' in row for row in rows), name


def test_the_readme_layer_table_gives_each_kinds_parameters_and_fields():
    table = README.read_text().split("## The network", 1)[1].split("\n## ", 1)[0]
    for name, kind in V.LAYERS.items():
        row = next(line for line in table.splitlines() if f'{{"type": "{name}"' in line)
        spec = row.split("`")[1]
        assert all(f'"{field}"' in spec for field in kind.fields), (name, spec)
        for stem in kind.params(spec_of(kind), 3):
            assert f"`{stem}<k>`" in row, (name, stem)
