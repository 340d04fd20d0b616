"""Layer norm whose backward forgets that the scale depends on x: dx = (g - mean(g)) /
sqrt(var + eps), without the `- xhat * mean(g * xhat)` term. The forward and the parameters'
gradients are right; the first wrong tensor is the gradient the layer norm sends back to its
input: at a residual's branch when the layer norm is the first of its layers."""

from broken_backends import Bugged, swap_layers

EPS = 1e-5
"""The eps of every layer norm in the cases this backend is run on."""


def unprojected(layer):
    def backward(xp, params, x, dy):
        _, grads = layer.backward(xp, params, x, dy)
        centred = x - xp.mean(x, axis=-1, keepdims=True)
        scale = 1.0 / xp.sqrt(xp.mean(centred * centred, axis=-1, keepdims=True) + EPS)
        g = dy * params[layer.param_names[0]]
        return (g - xp.mean(g, axis=-1, keepdims=True)) * scale, grads

    return layer._replace(backward=backward)


backend = Bugged(
    "layer-norm-backward-unprojected", network_bug=swap_layers("LayerNorm", unprojected)
)
