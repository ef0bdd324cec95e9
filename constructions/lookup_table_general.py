"""LOOKUP TABLE for every table (Exercise 3.12), ``lookup-table-general``.

Chapter 3's construction hashes the key linearly (``sum_p tok[k_p] @ M[p]``) and reads the
value off with the tied embedding, so its decision is ``argmax_v sum_p W_p[k_p, v]``: additive
over key positions, whatever the dimension. Tables that are not additive (XOR: ``00 -> 0,
11 -> 0, 01 -> 1, 10 -> 1``, Exercise 3.11) defeat it at any size, and random tables over a
small vocabulary (1,000 entries, vocab 10) cap it near 20 % (Exercise 3.9).

``build_general_lookup_transformer`` follows the hint (Chapter 6): the attention layer turns
the key into ONE scalar, ``h(k) = sum_p u_p . circle(k_p)`` with per-position directions
``u_p`` chosen so that the table's keys get well-separated scalars, and the MLP of the same
layer maps that scalar to the value exactly (Theorem 6.1, ``build_MLP``: a spike of 3 ReLUs
per entry). Nothing is additive any more, so every table works: adversarial ones, and any
prefix before the key (the heads read relative positions, Section 3.2).

Layout (d_model = 8, one layer, ``key_len`` heads of size 3, d_ff = 3 * entries):
dims 0-2 token on the sqrt(3)-circle, 3-5 position on the 3D circle, 6 and 7 hold ``+h`` and
``-h`` (the pair keeps the mean 0, so layer norm's output in dim 6 is a strictly increasing
function of h alone). The MLP writes ``1e6 * circle(value)`` (messy cleanup, Section 3.4), and
the tied read-out picks the value. Parameters: ``8 * V + 8 * block + 96 * key_len +
17 * 3 * entries + 8``: 51,648 for 1,000 entries, vocab 10, key 5, block 10 (14,821 non-zero),
where Chapter 3's construction reaches ~20 % precision at any size.

>>> ks = np.array([[0, 0], [1, 1], [0, 1], [1, 0]]); vs = np.array([0, 0, 1, 1])  # XOR
>>> params = build_general_lookup_transformer(ks, vs, vocab_size=2, block_size=6)
>>> from taotp import decode
>>> [int(decode(np.array(p), params, max_steps=1)[-1]) for p in ([1, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0])]
[0, 0, 1, 1]
"""
from __future__ import annotations

import numpy as np

from constructions.lookup_table import check_table
from taotp.blocks import HARDER, build_MLP, pos_3d_enc_rotation_matrix, pos_enc_3d_array
from taotp.checks import check_int, parse_int
from taotp.model import base_layer, base_params, layer_norm, self_attn
from taotp.program import Option, Program, Task

D_MODEL = 8
TOK, POS, HASH, ANTI = slice(0, 3), slice(3, 6), 6, 7
N_OUT = 1e6  # the MLP's output drowns the residual before the final layer norm
MIN_RELATIVE_GAP = 1e-7  # reject hash directions that put two keys closer than this


def _hash_directions(ks, circle, seed):
    """Per-position directions ``u (key_len, 3)`` giving the table's keys distinct scalars.

    Random directions separate distinct keys with probability 1; we keep drawing until the
    smallest gap is a safe fraction of the spread (float64 then resolves every spike).
    """
    rng = np.random.default_rng(seed)
    key_len = ks.shape[1]
    for _ in range(1000):
        u = rng.normal(0.0, 1.0, (key_len, 3))
        h = np.einsum("npc,pc->n", circle[ks], u)
        spread = np.ptp(h) if len(h) > 1 else 1.0
        gap = np.min(np.diff(np.sort(h))) if len(h) > 1 else 1.0
        if spread > 0 and gap > MIN_RELATIVE_GAP * spread:
            return u
    raise ValueError("could not separate the table's keys (is the table too large for float64?)")


def build_general_lookup_transformer(ks, vs, vocab_size: int, block_size: int, seed: int = 0):
    """A 1-layer transformer that outputs ``vs[j]`` whenever the input ends with ``ks[j]``.

    Works for every table of distinct keys (Exercise 3.12): the attention hashes the key to a
    scalar, the MLP maps each table key's scalar to its value exactly (Theorem 6.1).
    """
    ks, vs = check_table(ks, vs, vocab_size, block_size)
    n, key_len = ks.shape
    circle = pos_enc_3d_array(vocab_size)
    u = _hash_directions(ks, circle, seed)

    params = base_params(vocab_size, block_size, D_MODEL)
    params["tok_emb"][:, TOK] = circle
    params["out_emb"] = params["tok_emb"]  # tied
    params["pos_emb"][:, POS] = pos_enc_3d_array(block_size)
    layer = base_layer(key_len, D_MODEL, 3 * n, 3)
    for head in range(key_len):  # head h reads the token h back, i.e. key position -1-h
        # attend_back (Section 3.2) with the position block routed to head dims 0-2
        # (taotp.blocks.attend_back puts it at the same indices, which needs d_head >= 6).
        layer["Q"][head, POS, :] = pos_3d_enc_rotation_matrix(-head * 2 * np.pi / block_size) * HARDER
        layer["K"][head, POS, :] = np.eye(3)
        layer["V"][head, TOK, :] = np.eye(3)
        layer["P"][head, HASH, :] = u[key_len - 1 - head]
        layer["P"][head, ANTI, :] = -u[key_len - 1 - head]
    params["layers"].append(layer)

    # The MLP's input points: dim HASH of ln2's output for each key, from the layer itself.
    x = params["tok_emb"][ks] + params["pos_emb"][np.arange(key_len)]      # (n, l, d)
    mask = np.tril(np.ones((key_len, key_len), dtype=bool))
    last = np.stack([(xi + self_attn(layer_norm(xi), layer["Q"], layer["K"], layer["V"],
                                     layer["P"], mask))[-1] for xi in x])
    points = layer_norm(last)[:, HASH]
    values = np.zeros((n, D_MODEL))
    values[:, TOK] = N_OUT * circle[vs]
    M1, b1, M2, b2 = build_MLP(points, values)
    layer["M1"][HASH] = M1[0]
    layer["b1"], layer["M2"], layer["b2"] = b1, M2, b2
    return params


def _parse(text: str, vocab_size: int) -> np.ndarray:
    if not isinstance(text, str):
        raise TypeError(f"input must be a str, not {type(text).__name__}")
    parts = text.split()
    if not parts:
        raise ValueError("empty input: give the key's tokens, e.g. '3 1 4'")
    try:
        ids = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"tokens must be integers in [0, {vocab_size}), got {text!r}") from None
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise ValueError(f"token {bad[0]} is outside the vocabulary [0, {vocab_size})")
    return np.array(ids, dtype=np.int64)


def random_table(entries: int, vocab_size: int, key_len: int, seed: int = 0):
    """``entries`` distinct random keys of ``key_len`` tokens and random values (seeded)."""
    rng = np.random.default_rng(seed)
    keys = rng.choice(vocab_size ** key_len, size=entries, replace=False)
    ks = np.array([[k // vocab_size ** (key_len - 1 - p) % vocab_size for p in range(key_len)]
                   for k in keys], dtype=np.int64)
    return ks, rng.integers(0, vocab_size, entries)


def _examples() -> tuple[str, ...]:
    """Keys of the default table: alone, after a prefix, and after another key."""
    ks, _ = random_table(1000, 10, 5)
    key = lambda j: " ".join(map(str, ks[j]))
    return (key(0), "7 7 7 " + key(1), key(2) + " " + key(3)[-9:])


def make(entries: int = 1000, vocab_size: int = 10, key_len: int = 5, block_size: int = 10,
          seed: int = 0) -> Task:
    """A random table (the one Chapter 3's construction caps near 20 % on) and its program."""
    for name, value, low in (("entries", entries, 1), ("vocab_size", vocab_size, 2),
                             ("key_len", key_len, 1), ("block_size", block_size, 1)):
        check_int(name, value, low=low)
    if entries > vocab_size ** key_len:
        raise ValueError(f"only {vocab_size ** key_len} distinct keys exist, not {entries}")
    ks, vs = random_table(entries, vocab_size, key_len, seed)
    table = {tuple(k): int(v) for k, v in zip(ks, vs)}
    params = build_general_lookup_transformer(ks, vs, vocab_size, block_size, seed)

    def encode(text):
        ids = _parse(text, vocab_size)
        if len(ids) > block_size:
            raise ValueError(f"{len(ids)} tokens do not fit in block_size={block_size}")
        if tuple(ids[-key_len:]) not in table:
            raise ValueError(f"the input does not end with a key of the table "
                             f"(the last {key_len} tokens)")
        return ids

    def reference(prompt):
        return np.array([table[tuple(np.asarray(prompt)[-key_len:])]])

    def sample(rng, count):
        out = []
        for _ in range(count):
            prefix = rng.integers(0, vocab_size, rng.integers(0, block_size - key_len + 1))
            out.append(np.concatenate([prefix, ks[rng.integers(len(ks))]]).astype(np.int64))
        return out

    def adversarial():
        # Prefixes made of other keys, and keys that share all but one token with another.
        out = []
        for j in range(min(len(ks), 50)):
            other = ks[(j + 1) % len(ks)]
            out.append(np.concatenate([other, ks[j]])[-block_size:])
        return out

    return Task(params=params, encode=encode, render=lambda ids: " ".join(map(str, ids)),
                steps=lambda prompt: 1, reference=reference, sample=sample,
                exhaustive=(lambda: [k.copy() for k in ks]) if block_size == key_len else None,
                adversarial=adversarial, eos=None,
                options=dict(entries=entries, vocab_size=vocab_size, key_len=key_len,
                             block_size=block_size, seed=seed))


PROGRAMS = (
    Program(
        name="lookup-table-general", title="LOOKUP TABLE for every table",
        section="Exercise 3.12",
        summary="Attention hashes the key to one scalar, the MLP maps it to the value (Theorem "
                "6.1): works for adversarial tables (XOR) and for 1,000 entries over vocab 10.",
        input_format="key tokens, optionally preceded by any prefix: '3 1 4 1 5'",
        build=make,
        options=(Option("entries", int, 1000, "table entries", low=1, high=1000, cap=10 ** 5),
                 Option("vocab_size", int, 10, "vocabulary size", flag="--vocab", low=2,
                        high=100, cap=10 ** 5),
                 Option("key_len", int, 5, "tokens per key", low=1, high=5, cap=64),
                 Option("block_size", int, 10, "block size", low=1, high=100, cap=10 ** 5),
                 Option("seed", int, 0, "seed of the random table", low=0)),
        examples=_examples(),
        float32="the MLP's spikes are 1e-7-wide at 1,000 entries, below float32 resolution",
    ),
)
