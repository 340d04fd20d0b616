"""Layers over sequences, (batch, sequence, ...), each backward beside its forward.

Written against the Array API like harness/layers.py, and by its rules: pure functions of
(xp, params, x, data), only the namespace's functions and array operators, no branching on
values. The standard has no scatter, so the embedding's backward adds each position's
gradient into its token's row with a one-hot matmul; its iota comes from the table itself
(`ones_like`, `cumulative_sum`), so it sits on the table's device with no device argument.
"""

from __future__ import annotations

import math

from harness import composites
from harness.layers import Layer, rows_of


def embedding(table: str) -> Layer:
    """Integer token ids (batch, sequence) to vectors (batch, sequence, dim): row `id` of
    the (vocab, dim) table, by `take`. The ids need no gradient; the table's is
    one_hot(ids).T @ dy, so a token seen twice gets both positions' gradients."""

    def forward(xp, params, ids, data):
        weights = params[table]
        rows = xp.take(weights, xp.reshape(ids, (-1,)), axis=0)
        return xp.reshape(rows, (*ids.shape, weights.shape[1])), ids

    def backward(xp, params, ids, dy):
        weights = params[table]
        iota = xp.cumulative_sum(xp.ones_like(weights[:, 0], dtype=ids.dtype)) - 1
        one_hot = xp.astype(xp.reshape(ids, (-1, 1)) == iota, dy.dtype)
        return None, {table: one_hot.T @ rows_of(xp, dy)}

    return Layer("Embedding", (table,), forward, backward)


def attention(wq: str, wk: str, wv: str, wo: str, dim: int, causal: bool) -> Layer:
    """Single-head scaled dot-product self-attention over (batch, sequence, dim):
    softmax(q k^T / sqrt(dim)) v, projected by wo; q, k, v = x wq, x wk, x wv. With `causal`,
    position i attends to positions <= i only (the rest of its scores are -inf)."""
    scale = 1.0 / math.sqrt(dim)

    def forward(xp, params, x, data):
        q, k, v = x @ params[wq], x @ params[wk], x @ params[wv]
        scores = (q @ xp.matrix_transpose(k)) * scale
        if causal:
            keep = xp.tril(xp.ones_like(scores[0, ...]))
            scores = xp.where(keep > 0, scores, xp.full_like(scores, -math.inf))
        p = composites.softmax(xp, scores)
        mixed = p @ v
        return mixed @ params[wo], (x, q, k, v, p, mixed)

    def backward(xp, params, saved, dy):
        x, q, k, v, p, mixed = saved
        grads = {wo: rows_of(xp, mixed).T @ rows_of(xp, dy)}
        dmixed = dy @ params[wo].T
        dv = xp.matrix_transpose(p) @ dmixed
        dp = dmixed @ xp.matrix_transpose(v)
        dscores = dp - xp.sum(dp * p, axis=-1, keepdims=True)
        dscores *= p
        dscores *= scale
        dq, dk = dscores @ k, xp.matrix_transpose(dscores) @ q
        inputs = rows_of(xp, x).T
        for name, d in ((wq, dq), (wk, dk), (wv, dv)):
            grads[name] = inputs @ rows_of(xp, d)
        dx = dq @ params[wq].T + dk @ params[wk].T + dv @ params[wv].T
        return dx, grads

    return Layer("Attention", (wq, wk, wv, wo), forward, backward)
