"""w2 used transposed: an adapter that copied it into an (out, in) layout without `.T`.

In seed 004's regression net w2 is 10 x 10, so nothing crashes; the first wrong tensor is the
output of the layer that uses it, "layer 2 (Linear) output".
"""

from broken_backends import Bugged, swap_layers

WEIGHT = "w2"


def transpose_weight(layer):
    weight = layer.param_names[0]
    if weight != WEIGHT:
        return layer
    bias = layer.param_names[1] if len(layer.param_names) > 1 else None

    def forward(xp, params, x, data):
        y = x @ params[weight].T
        return (y + params[bias] if bias else y), x

    def backward(xp, params, x, dy):  # the gradient of the transposed use
        grads = {weight: dy.T @ x}
        if bias:
            grads[bias] = xp.sum(dy, axis=0)
        return dy @ params[weight], grads

    return layer._replace(forward=forward, backward=backward)


backend = Bugged("transposed-weight", network_bug=swap_layers("Linear", transpose_weight))
