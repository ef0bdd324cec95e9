"""How LOOKUP TABLE learns end to end (Exercise 3.1, ``constructions.lookup_table_trained``):
the 1-layer attention-only transformer's forward pass and gradients written by hand in numpy,
Adam, and the adversarial rounds that add every prompt of the domain decoded wrong, or right
by less than a margin, to the training set.

>>> groups = domain(np.array([[0, 1], [1, 0]]), vocab_size=3, block_size=3)
>>> {n: prompts.shape for n, (prompts, _) in groups.items()}
{2: (2, 2), 3: (6, 3)}
"""
from __future__ import annotations

import itertools

import numpy as np

from taotp.decoding import forward_batch
from taotp.model import base_layer, base_params


def _ln(x):
    centered = x - x.mean(-1, keepdims=True)
    std = np.sqrt((centered * centered).mean(-1, keepdims=True))
    return centered / (std + 1e-10), (centered, std)


def _ln_backward(dy, cache):
    centered, std = cache
    d = centered.shape[-1]
    s = std + 1e-10
    dc = dy / s - centered * (dy * centered).sum(-1, keepdims=True) / (d * std * s * s)
    return dc - dc.mean(-1, keepdims=True)


def forward_backward(W: dict, T: np.ndarray, targets: np.ndarray):
    """Mean cross-entropy of the last position's prediction and its gradient for each weight.

    ``W`` holds ``E (v, d)`` (tied), ``Pe (block, d)`` and ``Q K V P (h, d, k)``; ``T (b, n)``
    equal-length prompts, ``targets (b,)``. The forward pass is ``taotp.model.transformer``
    with one attention-only layer (the tests check the logits agree). Returns
    ``(loss, grads, logits)``.
    """
    E, Pe, Q, K, V, P = (W[k] for k in ("E", "Pe", "Q", "K", "V", "P"))
    b, n = T.shape
    scale = 1.0 / np.sqrt(Q.shape[-1])
    x = E[T] + Pe[:n]
    h, c1 = _ln(x)
    q, k, v = (np.einsum("bnd,hdk->bhnk", h, M) for M in (Q, K, V))
    S = np.einsum("bhnk,bhmk->bhnm", q, k) * scale
    S = np.where(np.tril(np.ones((n, n), bool)), S, -np.inf)
    A = np.exp(S - S.max(-1, keepdims=True))
    A /= A.sum(-1, keepdims=True)
    o = np.einsum("bhnm,bhmk->bhnk", A, v)
    x2 = x + np.einsum("bhnk,hdk->bnd", o, P)
    z, c2 = _ln(x2[:, -1])
    logits = z @ E.T
    pr = np.exp(logits - logits.max(-1, keepdims=True))
    pr /= pr.sum(-1, keepdims=True)
    loss = float(-np.log(pr[np.arange(b), targets] + 1e-300).mean())
    dl = pr
    dl[np.arange(b), targets] -= 1.0
    dl /= b
    g = {"E": dl.T @ z}
    dx2 = np.zeros_like(x2)
    dx2[:, -1] = _ln_backward(dl @ E, c2)
    g["P"] = np.einsum("bhnk,bnd->hdk", o, dx2)
    do = np.einsum("bnd,hdk->bhnk", dx2, P)
    dA = np.einsum("bhnk,bhmk->bhnm", do, v)
    dv = np.einsum("bhnm,bhnk->bhmk", A, do)
    dS = A * (dA - (dA * A).sum(-1, keepdims=True)) * scale
    dq = np.einsum("bhnm,bhmk->bhnk", dS, k)
    dk = np.einsum("bhnm,bhnk->bhmk", dS, q)
    g["Q"], g["K"], g["V"] = (np.einsum("bnd,bhnk->hdk", h, d_) for d_ in (dq, dk, dv))
    dh = sum(np.einsum("bhnk,hdk->bnd", d_, M) for d_, M in ((dq, Q), (dk, K), (dv, V)))
    dx = dx2 + _ln_backward(dh, c1)
    np.add.at(g["E"], T, dx)
    g["Pe"] = np.zeros_like(Pe)
    g["Pe"][:n] = dx.sum(0)
    return loss, g, logits


def to_params(W: dict) -> dict:
    """The trained weights in the book's params layout (tied embeddings, one layer)."""
    (vocab_size, d_model), block_size = W["E"].shape, W["Pe"].shape[0]
    n_heads, _, d_head = W["Q"].shape
    params = base_params(vocab_size, block_size, d_model)
    params["tok_emb"] = params["out_emb"] = W["E"].copy()
    params["pos_emb"] = W["Pe"].copy()
    layer = base_layer(n_heads, d_model, 0, d_head)
    for name in "QKVP":
        layer[name] = W[name].copy()
    params["layers"].append(layer)
    return params


def domain(ks: np.ndarray, vocab_size: int, block_size: int):
    """Every prompt, grouped by length: ``{n: (prompts (b, n), key index (b,))}``."""
    n_keys, key_len = ks.shape
    groups = {}
    for m in range(block_size - key_len + 1):
        prefixes = np.array(list(itertools.product(range(vocab_size), repeat=m)),
                            dtype=np.int64).reshape(vocab_size ** m, m)
        which = np.repeat(np.arange(n_keys), len(prefixes))
        groups[m + key_len] = (np.concatenate((np.tile(prefixes, (n_keys, 1)), ks[which]), 1),
                               which)
    return groups


def margins(params: dict, prompts: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Right logit minus the best other one at the last position (negative: wrong)."""
    logits = forward_batch(prompts, params, logits_from=prompts.shape[1] - 1)[:, 0]
    right = logits[np.arange(len(targets)), targets]
    logits[np.arange(len(targets)), targets] = -np.inf
    return right - logits.max(1)


def _initial_set(ks, vs, vocab_size, block_size, rng, random_prefixes):
    n_keys, key_len = ks.shape
    room = block_size - key_len
    sets = [(k[None], i) for i, k in enumerate(ks)]
    for i, k in enumerate(ks):
        for prefix in [*ks, np.full(room, vs[i])]:
            prefix = prefix[len(prefix) - min(room, len(prefix)):]
            sets.append((np.concatenate((prefix, k))[None], i))
        for m in range(1, room + 1):
            prefixes = rng.integers(0, vocab_size, (random_prefixes, m))
            sets.append((np.concatenate((prefixes, np.tile(k, (random_prefixes, 1))), 1), i))
    data = {}
    for prompts, i in sets:
        old = data.get(prompts.shape[1], (np.empty((0, prompts.shape[1]), np.int64),
                                                  np.empty(0, np.int64)))
        data[prompts.shape[1]] = (np.concatenate((old[0], prompts)),
                                  np.concatenate((old[1], np.full(len(prompts), i))))
    return data


def _adam(W, data, vs, steps, lr, state):
    m, s, t = state
    for _ in range(steps):
        t += 1
        grads = {k: np.zeros_like(v) for k, v in W.items()}
        total = sum(len(p) for p, _ in data.values())
        for prompts, which in data.values():
            _, g, _ = forward_backward(W, prompts, vs[which])
            for k in W:
                grads[k] += g[k] * (len(prompts) / total)
        for k in W:
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            s[k] = 0.999 * s[k] + 0.001 * grads[k] ** 2
            W[k] -= lr * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(s[k] / (1 - 0.999 ** t)) + 1e-8)
    return m, s, t


def train_lookup_table(ks, vs, vocab_size, block_size, d_model=16, n_heads=2, steps=300,
                       max_rounds=20, margin=1.0, lr=0.03, random_prefixes=4, seed=0):
    """Train from random weights with adversarial rounds (see the module docstring).

    Returns ``(params, history)``: ``history[r]`` is ``(training prompts, wrong in the whole
    domain, margin-short in the whole domain)`` after round r.
    """
    rng = np.random.default_rng(seed)
    d_head = d_model // n_heads
    W = {"E": rng.normal(0, 0.3, (vocab_size, d_model)),
         "Pe": rng.normal(0, 0.3, (block_size, d_model)),
         **{k: rng.normal(0, 0.3, (n_heads, d_model, d_head)) for k in "QKVP"}}
    data = _initial_set(ks, vs, vocab_size, block_size, rng, random_prefixes)
    everything = domain(ks, vocab_size, block_size)
    state = ({k: np.zeros_like(v) for k, v in W.items()},
             {k: np.zeros_like(v) for k, v in W.items()}, 0)
    history = []
    for round_ in range(max_rounds):
        state = _adam(W, data, vs, steps, lr * 0.8 ** round_, state)
        params = to_params(W)
        wrong = short = 0
        for n, (prompts, which) in everything.items():
            gap = margins(params, prompts, vs[which])
            wrong += int((gap <= 0).sum())
            hard = gap < margin
            short += int(hard.sum())
            if hard.any():
                old = data.get(n, (np.empty((0, n), np.int64), np.empty(0, np.int64)))
                data[n] = (np.concatenate((old[0], prompts[hard])),
                           np.concatenate((old[1], which[hard])))
        history.append((sum(len(p) for p, _ in data.values()), wrong, short))
        if short == 0:
            break
    return to_params(W), history
