"""A bias gradient with its sign flipped where the bias is below -1 (a kernel that folds the
bias's sign into its gradient once the bias is large and negative).

Every built-in bias lies within [-0.61, 0.59], negative ones included (log-softmax-nll's are
all negative); `harness fuzz` draws biases in their declared range [-0.5, 0.5] and in five
times it (its "large" regime), and shrinks to one bias below -1.
"""

from broken_backends import Bugged, swap_layers

BELOW = -1.0


def flips_negative_bias(layer):
    if len(layer.param_names) < 2:
        return layer
    bias = layer.param_names[1]

    def backward(xp, params, saved, dy):
        dx, grads = layer.backward(xp, params, saved, dy)
        flipped = xp.where(params[bias] < BELOW, -grads[bias], grads[bias])
        return dx, {**grads, bias: flipped}

    return layer._replace(backward=backward)


backend = Bugged("negative-bias-sign", network_bug=swap_layers("Linear", flips_negative_bias))
