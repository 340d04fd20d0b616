"""Sigmoid's backward computed on its input z instead of its output s: dy * z * (1 - z).

The first wrong tensor is the gradient flowing out of the last Sigmoid's backward, which the
trace names after the layer below it ("layer 2 (Linear) output grad" in mlp-regression); the
report must name the code at fault, "layer 3 (Sigmoid) backward".
"""

from broken_backends import Bugged, swap_layers


def backward_on_input(layer):
    def forward(xp, params, x, data):
        y, _ = layer.forward(xp, params, x, data)
        return y, x  # saves z, and the backward below treats it as s

    def backward(xp, params, z, dy):
        return dy * z * (1.0 - z), {}

    return layer._replace(forward=forward, backward=backward)


backend = Bugged("sigmoid-backward-on-input", network_bug=swap_layers("Sigmoid", backward_on_input))
