"""A blocked weight-gradient kernel that drops the last column once a weight is 16 wide.

Every built-in case's weights are at most 10 wide; `harness fuzz` draws widths up to 64 and
shrinks to a Linear layer exactly 16 wide, caught at that layer's `grad.w`.
"""

from broken_backends import Bugged, swap_layers

TILE = 16


def drops_last_column(layer):
    weight = layer.param_names[0]

    def backward(xp, params, saved, dy):
        dx, grads = layer.backward(xp, params, saved, dy)
        grad = grads[weight]
        if grad.shape[1] >= TILE:
            grad = xp.concat([grad[:, :-1], xp.zeros_like(grad[:, -1:])], axis=1)
        return dx, {**grads, weight: grad}

    return layer._replace(backward=backward)


backend = Bugged("wide-weight-grad", network_bug=swap_layers("Linear", drops_last_column))
