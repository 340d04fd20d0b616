"""Softmax normalised over the batch axis (0) instead of the class axis (-1)."""

from broken_backends import Bugged, swap_layers


def softmax_over_batch(layer):
    def forward(xp, params, z, data):
        e = xp.exp(z - xp.max(z, axis=0, keepdims=True))
        p = e / xp.sum(e, axis=0, keepdims=True)
        return p, p

    def backward(xp, params, p, dp):
        return p * (dp - xp.sum(dp * p, axis=0, keepdims=True)), {}

    return layer._replace(forward=forward, backward=backward)


backend = Bugged("softmax-wrong-axis", network_bug=swap_layers("Softmax", softmax_over_batch))
