"""A deep graph's first gradient off by 1%: with five or more Linear layers, the gradient of
the network's first parameter comes back 1.01 times too large.

Every built-in case has at most four Linear layers (residual-nested); `harness fuzz` draws up
to eight top-level layers, blocks included, and shrinks to five Linear layers.
"""

import dataclasses

from broken_backends import Bugged

DEEP = 5


def first_grad_off(network):
    if sum(layer.kind == "Linear" for layer in network.layers) < DEEP:
        return network
    index = next(i for i, layer in enumerate(network.layers) if layer.param_names)
    layer = network.layers[index]
    first = layer.param_names[0]

    def backward(xp, params, saved, dy):
        dx, grads = layer.backward(xp, params, saved, dy)
        return dx, {**grads, first: grads[first] * 1.01}

    layers = list(network.layers)
    layers[index] = layer._replace(backward=backward)
    return dataclasses.replace(network, layers=tuple(layers))


backend = Bugged("deep-first-grad", network_bug=first_grad_off)
