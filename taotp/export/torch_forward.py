"""The teacher-forced batch pass of ``taotp.decoding.forward_batch``, in torch (CPU, or a GPU
where there is one): what ``verify(..., backend="torch")`` runs.

The same formulas as the book's numpy pass (``taotp.model``: layer norm divides by
``std + 1e-10``, softmax by ``sum + 1e-10``), not the exports' (TransformerLens and GPT-2
divide by ``sqrt(var + eps)``), on the same weights in the same dtype, so the logits agree
with numpy's to float rounding; ``verify`` then applies the same verdict logic (inputs whose
margin is within rounding are decoded for real with numpy). Needs the export extra (torch).

Einsum axes as in ``taotp.model``, plus ``b`` for the batch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from taotp.export._torch import require, tensor, torch_dtype
from taotp.params import check_batch, check_params

if TYPE_CHECKING:  # torch is an optional dependency
    import torch


class TorchForward:
    """``forward_batch(tokens, logits_from, hardness, causal)`` on torch copies of ``params``.

    ``device`` defaults to ``"cuda"`` when torch sees a GPU, else ``"cpu"``.
    """

    def __init__(self, params: dict, device: str | None = None) -> None:
        torch = require("torch")
        dtype = torch_dtype(check_params(params))
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.name = f"torch-{self.device}"

        def put(array):
            return tensor(np.asarray(array), dtype).to(self.device)

        self.vocab_size, self.block_size = params["tok_emb"].shape[0], params["pos_emb"].shape[0]
        self.tok_emb, self.pos_emb = put(params["tok_emb"]), put(params["pos_emb"])
        self.out_emb = put(params["out_emb"])
        self.lnf = {k: put(v) for k, v in params["lnf"].items()}
        self.layers = [{k: ({n: put(x) for n, x in v.items()} if isinstance(v, dict)
                            else put(v)) for k, v in layer.items()}
                       for layer in params["layers"]]

    def __call__(self, tokens, logits_from: int = 0, hardness: bool = False,
                 causal: bool = True) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Logits ``(b, n - logits_from, v)`` as numpy (and, with ``hardness``, each head's
        weight on its best-scoring keys, ``(b, n - logits_from, layers, heads)``)."""
        torch = require("torch")
        ids = check_batch(tokens, self.vocab_size, self.block_size)
        with torch.no_grad():
            ids = torch.as_tensor(ids, device=self.device)
            n = ids.shape[1]
            start = len(range(n)[:logits_from])  # a negative logits_from counts from the end
            x = self.tok_emb[ids] + self.pos_emb[:n]
            mask = torch.ones(n, n, dtype=torch.bool, device=self.device)
            if causal:
                mask = torch.tril(mask)
            record = []
            for i, layer in enumerate(self.layers):
                h = _layer_norm(x, **layer["ln1"])
                if i == len(self.layers) - 1:  # the last layer: only the positions read out
                    x, mask = x[:, start:], mask[start:]
                heads, best = _attend(h, layer, mask, h[:, -x.shape[1]:])
                record.append(best[:, -(n - start):])
                x = x + torch.einsum("bnhk,hdk->bnd", heads, layer["P"])
                hidden = torch.relu(_layer_norm(x, **layer["ln2"]) @ layer["M1"] + layer["b1"])
                x = x + hidden @ layer["M2"] + layer["b2"]
            x = _layer_norm(x[:, -(n - start):], **self.lnf)
            logits = torch.einsum("bnd,vd->bnv", x, self.out_emb)
            if not hardness:
                return logits.cpu().numpy()
            width = max((layer["Q"].shape[0] for layer in self.layers), default=0)
            out = torch.ones(logits.shape[:2] + (len(record), width), dtype=logits.dtype,
                             device=self.device)
            for i, weight in enumerate(record):
                out[:, :, i, :weight.shape[-1]] = weight
            return logits.cpu().numpy(), out.cpu().numpy()


def _layer_norm(x: torch.Tensor, gamma, beta) -> torch.Tensor:
    """The book's layer norm: ``(x - mean) / (std + 1e-10)``, population std."""
    centered = x - x.mean(dim=-1, keepdim=True)
    std = (centered * centered).mean(dim=-1, keepdim=True) ** 0.5
    return beta + gamma * centered / (std + 1e-10)


def _attend(h: torch.Tensor, layer: dict, mask: torch.Tensor, queries: torch.Tensor):
    """Every head's output ``(b, n, h, k)`` at the ``queries`` rows of ``h`` (the last n) and
    its weight on its best-scoring keys ``(b, n, h)`` (ties within 1e-9 relative pooled, as
    numpy's ``forward_batch``)."""
    torch = require("torch")
    q = torch.einsum("bnj,hjk->bhnk", queries, layer["Q"])
    k, v = (torch.einsum("bnj,hjk->bhnk", h, layer[M]) for M in "KV")
    scores = q @ k.transpose(-1, -2) / float(layer["Q"].shape[-1] ** 0.5)  # (b, h, n, m)
    scores = scores.masked_fill(~mask, -torch.inf)
    top = scores.max(dim=-1, keepdim=True).values
    weights = torch.exp(scores - top)
    weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-10)
    ties = scores >= top - 1e-9 * (1.0 + top.abs())
    best = torch.where(ties, weights, 0.0).sum(dim=-1)
    return (weights @ v).transpose(1, 2), best.transpose(1, 2)
