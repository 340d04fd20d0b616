"""A batch reduction in blocks of 8 rows that drops the tail rows past a multiple of 8: a
Linear layer's parameter gradients, summed over a (batch, features) input of more than 8 rows,
leave out the rows after the last full block.

Every built-in step has at most 6 rows of (batch, features) data (mlp-regression's 100 points
train one at a time); `harness fuzz` draws up to 20 rows and shrinks to 9.
"""

from broken_backends import Bugged, swap_layers

BLOCK = 8


def drops_tail_rows(layer):
    def backward(xp, params, saved, dy):
        dx, grads = layer.backward(xp, params, saved, dy)
        x, needs_grad = saved
        rows = x.shape[0]
        if x.ndim != 2 or rows <= BLOCK or rows % BLOCK == 0:
            return dx, grads
        kept = rows - rows % BLOCK
        _, tail = layer.backward(xp, params, (x[:kept], needs_grad), dy[:kept])
        return dx, tail

    return layer._replace(backward=backward)


backend = Bugged("batch-tail", network_bug=swap_layers("Linear", drops_tail_rows))
