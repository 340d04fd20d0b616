"""A bias gradient averaged over the batch instead of summed: mean(dy, axis=0).

Invisible at batch size 1, which every built-in case with a bias had before issue 10; caught
on the batch cases (`batch-bias-*`) at the bias gradient, produced by its Linear's backward.
"""

from broken_backends import Bugged, swap_layers


def averaged_bias(layer):
    if len(layer.param_names) < 2:
        return layer
    bias = layer.param_names[1]

    def backward(xp, params, saved, dy):
        dx, grads = layer.backward(xp, params, saved, dy)
        return dx, {**grads, bias: xp.mean(dy, axis=0)}

    return layer._replace(backward=backward)


backend = Bugged("bias-grad-averaged", network_bug=swap_layers("Linear", averaged_bias))
