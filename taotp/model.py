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

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from taotp.params import check_params, check_tokens

Hook = Callable[[str, np.ndarray], None]


def no_hook(name: str, value: np.ndarray) -> None:
    """The default hook: the forward pass records nothing unless asked to."""


def norm(x: np.ndarray, axis: int = -1, epsilon: float = 1e-10) -> np.ndarray:
    """Scale non-negative weights to sum to 1 (the epsilon keeps an all-zero row finite)."""
    return x / (x.sum(axis=axis, keepdims=True) + epsilon)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Subtracts the max first, so that hardened attention scores (~1e3) do not overflow."""
    return norm(np.exp(x - np.max(x, axis=axis, keepdims=True)), axis=axis)


def layer_norm(x: np.ndarray, gamma: ArrayLike = 1.0, beta: ArrayLike = 0.0, axis: int = -1,
               epsilon: float = 1e-10) -> np.ndarray:
    """Divides by ``std + epsilon`` (the book's formula), not by ``sqrt(var + epsilon)``.

    The mean and variance are numpy's ``mean`` and ``var`` done with the same ufuncs, bit
    for bit, without their Python overhead (a cached decoding step runs this twice a layer).
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):  # numpy's mean of integers is float64
        x = x.astype(np.float64)
    count = np.intp(x.shape[axis])
    mean = np.add.reduce(x, axis=axis, keepdims=True)
    np.true_divide(mean, count, out=mean, casting="unsafe")
    centered = x - mean
    var = np.add.reduce(np.square(centered), axis=axis, keepdims=True)
    np.true_divide(var, count, out=var, casting="unsafe")
    return beta + gamma * centered / (var ** 0.5 + epsilon)


def self_attn(x: np.ndarray, Q: np.ndarray, K: np.ndarray, V: np.ndarray, P: np.ndarray,
              mask: np.ndarray, hook: Hook = no_hook) -> np.ndarray:
    """Multi-head attention; ``mask[n, m]`` is true where query n may see key m."""
    queries, keys, values = (np.einsum("nj,hjk->nhk", x, M) for M in (Q, K, V))
    qk = np.einsum("nhk,mhk->nmh", queries, keys) / float(Q.shape[-1] ** 0.5)
    attn_weights = softmax(np.where(mask[..., None], qk, -np.inf), axis=1)
    hook("attn", attn_weights)
    x = np.einsum("nmh,mhk->nhk", attn_weights, values)
    return np.einsum("nhk,hdk->nd", x, P)


def mlp(x: np.ndarray, M1: np.ndarray, b1: np.ndarray, M2: np.ndarray, b2: np.ndarray,
        hook: Hook = no_hook) -> np.ndarray:
    """The ReLU MLP: one hidden layer of ``d_ff`` units."""
    hidden = np.maximum(x @ M1 + b1, 0.0)
    hook("hidden", hidden)
    return hidden @ M2 + b2


def transformer_layer(x: np.ndarray, Q: np.ndarray, K: np.ndarray, V: np.ndarray,
                      P: np.ndarray, M1: np.ndarray, b1: np.ndarray, M2: np.ndarray,
                      b2: np.ndarray, ln1: dict, ln2: dict,
                      mask: np.ndarray, *, normalize: Callable = layer_norm,
                      post_ln: bool = False, hook: Hook = no_hook) -> np.ndarray:
    """Pre-LN, as in the book: ``x + f(normalize(x))``; ``post_ln=True``: ``normalize(x + f(x))``.

    ``normalize`` and ``post_ln`` are the seams of the exercises' variants (RMSNorm, Post-LN);
    ``hook(name, value)`` sees every intermediate result (how ``taotp.trace`` records).
    """
    if post_ln:
        x = normalize(x + self_attn(x, Q, K, V, P, mask, hook), **ln1)
        hook("after_attn", x)
        x = normalize(x + mlp(x, M1, b1, M2, b2, hook), **ln2)
    else:
        x = x + self_attn(normalize(x, **ln1), Q, K, V, P, mask, hook)
        hook("after_attn", x)
        x = x + mlp(normalize(x, **ln2), M1, b1, M2, b2, hook)
    hook("after_mlp", x)
    return x


def attention_mask(n: int, causal: bool = True) -> np.ndarray:
    """``mask[n, m]``: query n may see key m (only earlier keys when causal)."""
    return np.tril(np.ones((n, n), dtype=bool)) if causal else np.ones((n, n), dtype=bool)


def transformer(tokens: ArrayLike, tok_emb: np.ndarray, pos_emb: np.ndarray, out_emb: np.ndarray,
                layers: list, lnf: dict, causal: bool = True, *,
                normalize: Callable = layer_norm, post_ln: bool = False,
                hook: Hook = no_hook) -> np.ndarray:
    """Logits ``(n, v)`` for a 1-D array of token ids.

    ``causal=False`` lets every position attend to every other (an encoder, as RASP uses).
    The hook sees ``"embedding"``, then per layer ``"attn"`` ``(n, m, h)``, ``"after_attn"``,
    ``"hidden"`` ``(n, d_ff)`` and ``"after_mlp"``.
    """
    check_params(dict(tok_emb=tok_emb, pos_emb=pos_emb, out_emb=out_emb, layers=layers, lnf=lnf))
    tokens = check_tokens(tokens, tok_emb.shape[0], pos_emb.shape[0])
    n, = tokens.shape
    mask = attention_mask(n, causal)
    x = tok_emb[tokens] + pos_emb[np.arange(n)]
    hook("embedding", x)
    for layer in layers:
        x = transformer_layer(x, **layer, mask=mask, normalize=normalize, post_ln=post_ln,
                              hook=hook)
    return np.einsum("nd,vd->nv", normalize(x, **lnf), out_emb)


def base_layer(n_heads: int, d_model: int, d_ff: int, d_head: int) -> dict:
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


def base_params(vocab_size: int, block_size: int, d_model: int) -> dict:
    """Embeddings and a final layer norm with no layers: append ``base_layer``s to program."""
    return {
        "tok_emb": np.zeros((vocab_size, d_model)),
        "out_emb": np.zeros((vocab_size, d_model)),
        "pos_emb": np.zeros((block_size, d_model)),
        "layers": [],
        "lnf": {"gamma": 1.0, "beta": 0.0},
    }
