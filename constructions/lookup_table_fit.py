"""Chapter 3's table fit (Figure 3.7): the loss of LOOKUP TABLE's tied read-out, its
gradient by hand, and the clipped gradient descent that fits the embeddings and hash matrices.

>>> onehot(np.array([1, 0]), 3).tolist()
[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
"""
from __future__ import annotations

import numpy as np

from taotp.model import layer_norm, softmax


EPS = 1e-10  # layer_norm's epsilon, as in taotp.model


def onehot(t, v):
    """Row ``t`` of the ``v x v`` identity (the one-hot vector of token ``t``)."""
    return np.eye(v)[t]


def logsumexp(x, axis=-1):
    """``log(sum(exp(x)))`` shifted by the max, so large logits do not overflow."""
    mx = x.max(axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(x - mx), axis=axis, keepdims=True)) + mx


def loss_and_grad(E, M, k, v, y):
    """Cross-entropy of the table and its gradient ``(dM, dE)`` (Figure 3.4).

    ``E (V, d)`` token vectors (already layer-normed), ``M (l, d, d)`` hash matrices, ``k (n, l)``
    keys, ``v (n,)`` values, ``y (n, V)`` their one-hots. The model is the transformer's last
    position: ``hash = sum_p E[k_p] @ M[p]``, padded with 3 zeros, through the final layer norm
    (over d + 3 dims), against the tied ``E``. (We derived the layer-norm backward afresh;
    the tests check it against finite differences.)
    """
    loss, grads, _ = _loss_grad_logits(E, M, k, v, y)
    return loss, grads


def _loss_grad_logits(E, M, k, v, y):
    # The book's einsums as matmuls (einsum without `optimize` is ~10x slower here).
    n, l = k.shape
    d = E.shape[1]
    D = d + 3
    x = E[k].reshape(n, l * d)                  # nld
    h = x @ M.reshape(l * d, d)                 # nld,ldo->no
    mean = h.sum(axis=1, keepdims=True) / D
    h0 = h - mean                               # the 3 padding dims hold -mean
    s = (((h0 ** 2).sum(axis=1, keepdims=True) + 3 * mean ** 2) / D) ** 0.5
    std = s + EPS
    h01 = h0 / std
    z = h01 @ E.T                               # vd,nd->nv
    loss = float((logsumexp(z) - z)[np.arange(len(z)), v].sum())

    dz = softmax(z) - y                         # n, V
    g = dz @ E                                  # d loss / d h01 (0 on the padding dims)
    # Back through layer norm: d/du [(u - mean(u)) / (std(u) + eps)] with u = (h, 0, 0, 0).
    dh = (g - g.sum(axis=1, keepdims=True) / D) / std \
        - h0 * (g * h0).sum(axis=1, keepdims=True) / (D * s * std ** 2)
    dM = (x.T @ dh).reshape(l, d, d)            # nld,no->ldo
    dx = (dh @ M.reshape(l * d, d).T).reshape(n, l, d)  # no,ldo->nld
    dE = dz.T @ h01                             # nd,nv->vd
    np.add.at(dE, k, dx)
    return loss, (dM, dE), z


def optimize(E, M, ks, vs, iters, lr=1e-3, progress=True, max_grad_norm=30.0):
    """Gradient descent on ``E`` and ``M`` in place, layer-norming ``E`` each step (Figure
    3.5, with ``E -= lr * dE`` where the book has ``E = lr * dE``).

    Two changes make it reliable: a step's gradient is clipped to ``max_grad_norm`` (a hash
    near 0 has a huge layer-norm gradient, and plain steps then throw the fit away), and the
    best iterate seen (fewest entries decoded wrong, then lowest loss) is the one kept.
    Returns ``(loss, wrong, iteration)`` of that iterate; ``progress=False`` silences tqdm.
    """
    from tqdm import tqdm

    y = onehot(vs, E.shape[0])
    best = (np.inf, np.inf, -1)
    kept = E.copy(), M.copy()
    with tqdm(range(iters), disable=not progress, desc="lookup table") as bar:
        for i in bar:
            E[:] = layer_norm(E)
            loss, (dM, dE), z = _loss_grad_logits(E, M, ks, vs, y)
            wrong = int((z.argmax(axis=1) != vs).sum())
            if (wrong, loss) < best[:2]:
                best = (wrong, loss, i)
                kept = E.copy(), M.copy()
            norm = float(np.sqrt((dE ** 2).sum() + (dM ** 2).sum()))
            step = lr * min(1.0, max_grad_norm / norm) if norm > 0 else 0.0
            E -= step * dE
            M -= step * dM
            if i % 50 == 0:
                bar.set_postfix(loss=f"{loss:.4g}", wrong=wrong)
    E[:], M[:] = kept
    return best[1], best[0], best[2]
