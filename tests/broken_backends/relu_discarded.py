"""Seed 002's bug: the forward calls relu(x) and throws the result away.

Invisible on the homework inputs (every hidden pre-activation there is positive); caught where
some are negative, at "layer 1 (ReLU) output".
"""

from broken_backends import Bugged, swap_layers


def discard_relu(layer):
    def forward(xp, params, x, data):
        layer.forward(xp, params, x, data)  # computed, then dropped, as in seed 002
        return x, None

    def backward(xp, params, saved, dy):  # what autograd derives from that forward
        return dy, {}

    return layer._replace(forward=forward, backward=backward)


backend = Bugged("relu-discarded", network_bug=swap_layers("ReLU", discard_relu))
