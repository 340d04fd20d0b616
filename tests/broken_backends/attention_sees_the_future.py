"""Causal attention whose mask is upper-triangular: each position sees itself and the ones
after it, not before (the classic transposed mask). Caught at the causal attention's output."""

import dataclasses
import math

from broken_backends import Bugged
from harness import composites


def future(layer):
    wq, wk, wv, wo = layer.param_names

    def forward(xp, params, x, data):
        q, k, v = x @ params[wq], x @ params[wk], x @ params[wv]
        scores = q @ xp.matrix_transpose(k) / math.sqrt(q.shape[-1])
        keep = xp.triu(xp.ones_like(scores[0, ...]))
        scores = xp.where(keep > 0, scores, xp.full_like(scores, -math.inf))
        p = composites.softmax(xp, scores)
        return (p @ v) @ params[wo], (x, q, k, v, p, p @ v)

    return layer._replace(forward=forward)


def causal_only(bug):
    """Only the first attention of the network (the causal one in attention-causal)."""

    def network_bug(network):
        first = next(i for i, layer in enumerate(network.layers) if layer.kind == "Attention")
        layers = list(network.layers)
        layers[first] = bug(layers[first])
        return dataclasses.replace(network, layers=tuple(layers))

    return network_bug


backend = Bugged("attention-sees-the-future", network_bug=causal_only(future))
