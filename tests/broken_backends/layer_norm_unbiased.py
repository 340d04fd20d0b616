"""Layer norm with the unbiased variance (divided by width - 1), torch.var's default, where
torch.nn.LayerNorm and the harness divide by the width. Caught at the first layer norm's
output, produced by its forward."""

from broken_backends import Bugged, swap_layers


def unbiased(layer):
    gamma, beta = layer.param_names

    def forward(xp, params, x, data):
        centred = x - xp.mean(x, axis=-1, keepdims=True)
        variance = xp.sum(centred * centred, axis=-1, keepdims=True) / (x.shape[-1] - 1)
        return centred / xp.sqrt(variance + 1e-5) * params[gamma] + params[beta], x

    return layer._replace(forward=forward)


backend = Bugged("layer-norm-unbiased", network_bug=swap_layers("LayerNorm", unbiased))
