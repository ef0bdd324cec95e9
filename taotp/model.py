"""The book's transformer (Figures 1.1-1.3): a pre-LN, decoder-only stack in plain numpy.

Glossary of einsum axes, used the same way everywhere in taotp:
    n  query position     m  key position     h  head
    d  model dimension    k  head dimension   v  vocabulary
    j  model dimension, as the input of a projection

Parameters keep the book's layout: ``tok_emb (v, d)``, ``pos_emb (block_size, d)``,
``out_emb (v, d)``, ``lnf`` and ``layers``, each layer holding ``Q K V P`` of shape
``(h, d, k)``, ``M1 (d, d_ff)``, ``b1 (d_ff,)``, ``M2 (d_ff, d)``, ``b2 (d,)`` and the
layer-norm dicts ``ln1``, ``ln2``.

The forward pass runs in the dtype of the parameters (float64 or float32). Every constant
below is a Python float, so that numpy never promotes a float32 computation to float64.
"""
from __future__ import annotations

import numpy as np

from taotp.params import check_params, check_tokens


def norm(x, axis=-1, epsilon: float = 1e-10):
    return x / (x.sum(axis=axis, keepdims=True) + epsilon)


def softmax(x, axis=-1):
    return norm(np.exp(x - np.max(x, axis=axis, keepdims=True)), axis=axis)


def layer_norm(x, gamma=1.0, beta=0.0, axis=-1, epsilon: float = 1e-10):
    """Divides by ``std + epsilon`` (the book's formula), not by ``sqrt(var + epsilon)``."""
    centered = x - x.mean(axis=axis, keepdims=True)
    return beta + gamma * centered / (x.var(axis=axis, keepdims=True) ** 0.5 + epsilon)


def self_attn(x, Q, K, V, P, mask):
    """Multi-head attention; ``mask[n, m]`` is true where query n may see key m."""
    queries, keys, values = (np.einsum("nj,hjk->nhk", x, M) for M in (Q, K, V))
    qk = np.einsum("nhk,mhk->nmh", queries, keys) / float(Q.shape[-1] ** 0.5)
    attn_weights = softmax(np.where(mask[..., None], qk, -np.inf), axis=1)
    x = np.einsum("nmh,mhk->nhk", attn_weights, values)
    return np.einsum("nhk,hdk->nd", x, P)


def transformer_layer(x, Q, K, V, P, M1, b1, M2, b2, ln1, ln2, mask):
    x = x + self_attn(layer_norm(x, **ln1), Q, K, V, P, mask)
    return x + np.maximum(layer_norm(x, **ln2) @ M1 + b1, 0.0) @ M2 + b2


def attention_mask(n, causal: bool = True):
    """``mask[n, m]``: query n may see key m (only earlier keys when causal)."""
    return np.tril(np.ones((n, n), dtype=bool)) if causal else np.ones((n, n), dtype=bool)


def transformer(tokens, tok_emb, pos_emb, out_emb, layers, lnf, causal: bool = True):
    """Logits ``(n, v)`` for a 1-D array of token ids.

    ``causal=False`` lets every position attend to every other (an encoder, as RASP uses).
    """
    check_params(dict(tok_emb=tok_emb, pos_emb=pos_emb, out_emb=out_emb, layers=layers, lnf=lnf))
    tokens = check_tokens(tokens, tok_emb.shape[0], pos_emb.shape[0])
    n, = tokens.shape
    mask = attention_mask(n, causal)
    x = tok_emb[tokens] + pos_emb[np.arange(n)]
    for layer in layers:
        x = transformer_layer(x, **layer, mask=mask)
    return np.einsum("nd,vd->nv", layer_norm(x, **lnf), out_emb)


def base_layer(n_heads, d_model, d_ff, d_head):
    """A layer that computes the identity (all zeros, thanks to the residual connections)."""
    return {
        "Q": np.zeros((n_heads, d_model, d_head)),
        "K": np.zeros((n_heads, d_model, d_head)),
        "V": np.zeros((n_heads, d_model, d_head)),
        "P": np.zeros((n_heads, d_model, d_head)),
        "M1": np.zeros((d_model, d_ff)),
        "b1": np.zeros((d_ff,)),
        "M2": np.zeros((d_ff, d_model)),
        "b2": np.zeros((d_model,)),
        "ln1": {"gamma": 1.0, "beta": 0.0},
        "ln2": {"gamma": 1.0, "beta": 0.0},
    }


def base_params(vocab_size, block_size, d_model):
    return {
        "tok_emb": np.zeros((vocab_size, d_model)),
        "out_emb": np.zeros((vocab_size, d_model)),
        "pos_emb": np.zeros((block_size, d_model)),
        "layers": [],
        "lnf": {"gamma": 1.0, "beta": 0.0},
    }
