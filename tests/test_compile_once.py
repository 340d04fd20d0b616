"""Compile once: networks of one structure share a signature, so a backend reuses its step."""

from __future__ import annotations

import dataclasses

import pytest

from harness import cases, plugins
from harness.layers import relu, sigmoid


@pytest.fixture(scope="module")
def networks():
    return {case.name: case.network for case in cases.load_dir()[0]}


def test_networks_built_from_one_structure_share_a_signature(networks):
    again = {case.name: case.network for case in cases.load_dir()[0]}
    for name, network in networks.items():
        assert network is not again[name]
        assert network.signature == again[name].signature
        hash(network.signature)


def test_a_different_loss_layer_or_shape_changes_the_signature(networks):
    batch_sum, sample_mean = networks["task2-grad-batch-sum"], networks["task2-grad-sample-mean"]
    assert batch_sum.loss.kind == sample_mean.loss.kind  # only the reduction differs
    assert batch_sum.signature != sample_mean.signature
    assert networks["task3-train"].signature != networks["task3-train-dropout"].signature
    network = networks["task3-train"]
    swapped = tuple(sigmoid() if layer.kind == "ReLU" else layer for layer in network.layers)
    assert dataclasses.replace(network, layers=swapped).signature != network.signature
    reshaped = dict(network.param_shapes, w2=(4, 3))
    assert dataclasses.replace(network, param_shapes=reshaped).signature != network.signature
    fresh = tuple(relu() if layer.kind == "ReLU" else layer for layer in network.layers)
    assert dataclasses.replace(network, layers=fresh).signature == network.signature


@pytest.mark.parametrize("name", ["jax", "jax-manual"])
def test_jax_steps_are_made_once_per_signature(name, networks):
    pytest.importorskip("jax")
    backend = plugins.load(name)
    first = backend.make_step(networks["task2-grad-sample-mean"], "float32")
    assert backend.make_step(networks["task3-train"], "float32") is first  # same structure
    assert backend.make_step(networks["task2-grad-batch-sum"], "float32") is not first
    assert backend.make_step(networks["task3-train"], "float64") is not first
    traced = backend.make_step(networks["task3-train"], "float32", trace=True)
    assert traced is not first
