"""A structure-aware stand-in for ``forward_batch``: the same logits, at the cost of the
program's structure rather than its dense size.

The plain pass (``taotp.model.transformer``, ``taotp.decoding.forward_batch``) stays the
definition; ``FastPath`` computes the same sums, skipping only work whose result it knows:

- **Layer 0 from tables.** Layer 0 sees ``tok_emb[t] + pos_emb[n]``, a function of (position,
  token) alone, so its layer norm, queries, keys and values are tables of ``block x vocab``
  rows, computed once and gathered per input.
- **Hard heads as gathers.** Where a causal head at query position ``n`` provably puts every
  key but one (``m*``, which may depend on the query's token) more than ``-log`` of the
  smallest float below the best score, for EVERY token at every key, softmax's exponentials
  of the others are exactly 0, so the head's output is exactly ``w* v[m*]`` (``w*``, the
  softmax weight of a lone key, is ``1 / (1 + 1e-10)``): a gather. The proof runs over the
  tables (all tokens at all positions); where it fails the head is computed in full.
- **MLPs memoised on what they read.** An MLP's output depends only on the model dimensions
  its ``M1`` reads (one, for the book's spike MLPs), so it is evaluated, with the dense
  ``_mlp``, once per distinct bit pattern of those inputs and reused. Teacher-forced
  verification feeds the same few values again and again (all 10^6 three-digit additions
  show 16,023 distinct MLP inputs among 4 x 10^6 rows; 2 x 10^6 random four-digit ones,
  177,270 among 10^7). In a causal pass a new input is evaluated alone, in the shape the
  cached decoder feeds the MLP, since BLAS rounds a product differently for other shapes.
  When most inputs turn out distinct and the MLP is narrow, the memo switches itself off.
- **Attention without its zero-weight keys.** A head with at least ``sparse_from`` query-key
  pairs (long sequences: 10,000-digit long addition has 9 x 10^8 per head) runs through
  ``taotp.fast_attention``, which never scores the keys whose softmax weight it proves to be
  exactly 0 (its exponential underflows), and sums the rest as the dense pass does.

Every value is computed by the same formulas as the dense pass, in the same order, so the
result differs from the plain pass's only where BLAS rounds a batched MLP product otherwise:
on 3-digit DECIMAL ADDITION the logits are bit for bit those of the step-by-step decoder
(tested); against ``forward_batch`` they agree to 1e-9 of the logit scale plus the dense
pass's own batched-vs-single-row spread (tested on every registered program and on random
models), and the tokens agree.

``decode_batch(..., fast=FastPath(params))`` decodes on this path (each step one pass over
the whole sequences: no cache, so it pays off for one-layer programs, not deep ones).
"""
from __future__ import annotations

import numpy as np

from taotp.batched import KVCache, _layer, _mlp, mlp_support
from taotp.fast_attention import MIN_SCORES, attend, underflow_gap
from taotp.model import layer_norm, softmax
from taotp.params import check_batch, check_params

# Largest layer-0 table (block x vocab x d_model elements) and hardness proof (block x vocab
# per head and query position) built; past them layer 0 runs in full.
_TABLE_ELEMENTS = 2 ** 24
_PROOF_ROWS = 2 ** 16
# After this many MLP rows, the memo stays on only if under this share of them were new, or
# if the MLP is so wide that a row's evaluation dwarfs the memo's bookkeeping.
_MEMO_TRIAL, _MEMO_NEW, _MEMO_WIDE = 2 ** 16, 0.5, 2 ** 12
# Elements of the widest MLP hidden array evaluated at once when not memoising (~32 MB).
_HIDDEN_ELEMENTS = 2 ** 22


class FastPath:
    """Tables, hard-head targets and MLP memos for one params dict (build once, reuse)."""

    def __init__(self, params: dict, *, sparse_from: int = MIN_SCORES) -> None:
        check_params(params)
        self.params = params
        # Heads with at least this many query-key pairs skip their zero-weight keys.
        self.sparse_from = sparse_from
        layers = params["layers"]
        self.dtype = params["tok_emb"].dtype
        self.mlps = [_MemoMLP(layer) for layer in layers]
        self.tables = _tables(params) if layers else None
        self.targets = _hard_targets(self.tables, self.dtype) if self.tables else None
        if self.targets is not None:
            self._by_query = np.ascontiguousarray(self.targets.transpose(1, 2, 0))
        # out_emb rows that are exactly equal give exactly equal logits (computed once).
        self.out_rows, self.out_index = np.unique(params["out_emb"], axis=0,
                                                  return_inverse=True)
        self.out_index = self.out_index.reshape(-1)

    @property
    def useful(self) -> bool:
        """Whether any structure was found (else this is the dense pass, slower)."""
        return self.tables is not None or any(m.read is not None for m in self.mlps)

    def describe(self) -> str:
        """What this fast path does for its params, in a few words."""
        parts = []
        if self.tables is not None:
            parts.append("layer 0 from tables")
        if self.targets is not None:
            hard = int((self.targets >= 0).sum())
            parts.append(f"{hard:,}/{self.targets.size:,} (head, position, token) "
                         f"attention patterns proven hard")
        memo = [m for m in self.mlps if m.read is not None]
        if memo:
            parts.append(f"{len(memo)} MLP(s) memoised on {sum(len(m.read) for m in memo)} "
                         f"input dim(s)")
        if parts:  # (s18d) sparse attention: only where the rest found structure
            parts.append(f"heads of {self.sparse_from:,}+ query-key pairs skip their "
                         f"zero-weight keys")
        return "; ".join(parts) or "no structure found: the dense pass"

    def forward_batch(self, tokens, logits_from: int = 0, hardness: bool = False,
                      causal: bool = True):
        """``taotp.decoding.forward_batch`` (same arguments and results), on this path."""
        p = self.params
        tokens = check_batch(tokens, p["tok_emb"].shape[0], p["pos_emb"].shape[0])
        b, t = tokens.shape
        keep = np.arange(t)[logits_from:]
        record = [] if hardness else None
        layers = p["layers"]
        cache = KVCache(len(layers))
        x = None
        for i, layer in enumerate(layers):
            rows = keep if i == len(layers) - 1 else None
            if i == 0 and self.tables is not None:
                x = self._layer0(tokens, rows, record, causal)
                continue
            if x is None:
                x = p["tok_emb"][tokens] + p["pos_emb"][:t]
            mlp = self.mlps[i].decoder_rows if causal else self.mlps[i]
            x = _layer(x, layer, i, cache, 0, rows, record, causal, mlp, self._attend)
        if x is None:
            x = (p["tok_emb"][tokens] + p["pos_emb"][:t])[:, keep]
        h = layer_norm(x, **p["lnf"])
        logits = np.einsum("bnd,vd->bnv", h, self.out_rows)[..., self.out_index]
        if not hardness:
            return logits
        heads = max((layer["Q"].shape[0] for layer in layers), default=0)
        out = np.ones(logits.shape[:2] + (len(record), heads), dtype=logits.dtype)
        for i, weight in enumerate(record):
            out[:, :, i, :weight.shape[-1]] = weight[:, -logits.shape[1]:]
        return logits, out

    def _layer0(self, tokens, rows, record, causal):
        tab, layer = self.tables, self.params["layers"][0]
        b, t = tokens.shape
        positions = np.arange(t) if rows is None else np.arange(t)[rows]
        q_tokens = tokens[:, positions]
        x = tab["emb"][positions, q_tokens]  # (b, n, d)
        target = None
        if causal and self.targets is not None:
            target = self._by_query[positions, q_tokens]  # (b, n, h)
        if target is not None and np.all(target >= 0):
            n_heads = target.shape[-1]
            at = tokens[np.arange(b)[:, None, None], target]  # the tokens attended to
            flat = (target * tokens_max(tab) + at) * n_heads + np.arange(n_heads)
            heads = self.w_star * tab["V"].reshape(-1, tab["V"].shape[-1])[flat]
            if record is not None:
                record.append(np.full(heads.shape[:3], self.w_star, dtype=self.dtype))
        else:
            all_pos = np.arange(t)
            keys = tab["K"][all_pos, tokens]
            values = tab["V"][all_pos, tokens]
            queries = tab["Q"][positions, q_tokens]
            heads = self._attend(queries, keys, values, positions, record, causal)
        x = x + np.einsum("bnhk,hdk->bnd", heads, layer["P"])  # the dense pass's own sum
        mlp = self.mlps[0].decoder_rows if causal else self.mlps[0]
        return x + mlp(layer_norm(x, **layer["ln2"]), layer)

    def _attend(self, queries, keys, values, positions, record, causal):
        """Attention without the keys of provably zero weight (``taotp.fast_attention``)."""
        return attend(queries, keys, values, positions, record, causal,
                      min_scores=self.sparse_from)

    @property
    def w_star(self):
        """The softmax weight of a key that is alone (the others' exponentials are 0)."""
        return softmax(np.array([0.0, -np.inf], dtype=self.dtype))[0]


def tokens_max(tab) -> int:
    """The vocabulary size of layer-0 tables ``(block, vocab, ...)``."""
    return tab["V"].shape[1]


def _tables(params):
    """Layer 0's embedding, queries, keys, values per (position, token), or None if too big."""
    block, (vocab, d) = params["pos_emb"].shape[0], params["tok_emb"].shape
    if block * vocab * max(d, 1) > _TABLE_ELEMENTS:
        return None
    layer = params["layers"][0]
    emb = params["tok_emb"][None, :, :] + params["pos_emb"][:, None, :]  # (n, t, d)
    h = layer_norm(emb, **layer["ln1"])
    tab = {"emb": emb}
    for M in "QKV":
        tab[M] = np.einsum("bnj,hjk->bnhk", h, layer[M])  # (n, t, h, k)
    return tab


def _hard_targets(tab, dtype):
    """``targets[h, n, t]``: the one key a causal head at position n, token t, attends to
    (all others' exponentials underflow to exactly 0 for every token), or -1."""
    q, k = tab["Q"], tab["K"]
    block, vocab, n_heads, d_head = q.shape
    if block * vocab > _PROOF_ROWS or n_heads == 0:
        return None
    gap = underflow_gap(dtype)
    scale = float(d_head ** 0.5)
    targets = np.full((n_heads, block, vocab), -1, dtype=np.int64)
    for h in range(n_heads):
        for n in range(block):
            scores = np.einsum("tk,msk->tms", q[n, :, h], k[:n + 1, :, h]) / scale
            low, high = scores.min(axis=2), scores.max(axis=2)  # (t, m)
            best = np.argmax(low, axis=1)
            rest = high.copy()
            rest[np.arange(vocab), best] = -np.inf
            runner = rest.max(axis=1) if n else np.full(vocab, -np.inf)
            hard = low[np.arange(vocab), best] - runner > gap
            targets[h, n] = np.where(hard, best, -1)
    return targets


class _MemoMLP:
    """``_mlp`` evaluated once per distinct bit pattern of the dimensions ``M1`` reads."""

    def __init__(self, layer):
        self.support = mlp_support(layer)
        self.rows, self.width = self.support[0], layer["M1"].shape[1]
        self.read = self.rows if len(self.rows) else None
        self.keys = None  # sorted keys seen so far
        self.values = None  # (len(keys), d) outputs
        self.seen = self.new = 0

    def decoder_rows(self, h, layer):
        """The MLP on ``h``, new inputs evaluated one row at a time as the cached decoder
        does (causal passes)."""
        return self(h, layer, one_by_one=True)

    def __call__(self, h, layer, one_by_one=False):
        if self.read is None or not self.on:
            flat = h.reshape(-1, h.shape[-1])
            step = max(1, _HIDDEN_ELEMENTS // max(1, layer["M1"].shape[1]))
            return np.concatenate([_mlp(flat[s:s + step], layer, self.support)
                                   for s in range(0, len(flat), step)]).reshape(h.shape)
        flat = h.reshape(-1, h.shape[-1])
        read = np.ascontiguousarray(flat[:, self.rows])
        width = read.dtype.itemsize * read.shape[1]
        kind = {4: np.int32, 8: np.int64}.get(width, np.dtype((np.void, width)))
        keys = read.view(kind)[:, 0]
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        if self.keys is None:
            self.keys, self.values = uniq[:0], np.empty((0, h.shape[-1]), dtype=h.dtype)
        where = np.searchsorted(self.keys, uniq)
        found = where < len(self.keys)
        found[found] = self.keys[where[found]] == uniq[found]
        missing = np.flatnonzero(~found)
        self.seen += len(flat)
        self.new += len(missing)
        if len(missing):
            fresh = self._dense(flat[first[missing]], layer, one_by_one)
            at = np.searchsorted(self.keys, uniq[missing])
            self.keys = np.insert(self.keys, at, uniq[missing])
            self.values = np.insert(self.values, at, fresh, axis=0)
        out = self.values[np.searchsorted(self.keys, uniq)][inverse.reshape(-1)]
        return out.reshape(h.shape)

    @property
    def on(self):
        """Whether memoising pays: most rows seen so far repeated an earlier one."""
        return (self.seen < _MEMO_TRIAL or self.new < _MEMO_NEW * self.seen
                or self.width >= _MEMO_WIDE)

    def _dense(self, rows, layer, one_by_one):
        """``_mlp`` on new rows: one at a time, in the shape the cached decoder feeds it
        (BLAS may round a product differently for other shapes: this gives the decoder's
        very bits), or in chunks, as the plain pass over a whole sequence does."""
        if one_by_one:
            return np.concatenate([_mlp(row[None, None], layer, self.support)[0]
                                   for row in rows])
        step = max(1, _HIDDEN_ELEMENTS // max(1, self.width))
        return np.concatenate([_mlp(rows[s:s + step], layer, self.support)
                               for s in range(0, len(rows), step)])
