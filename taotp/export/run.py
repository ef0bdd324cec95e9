"""Greedy decoding with an exported model's own forward pass, in the model's dtype.

``transformers``' ``generate`` casts each step's logits to float32 before its argmax
(``generation/utils.py``: ``outputs.logits[:, -1].to(dtype=torch.float32)``), so a program
whose two best logits differ by less than float32 resolution (SORT's do, by ~1e-15 of the
largest) can decode differently there even though the float64 logits agree with ours.
``greedy`` is the book's loop (Figure 1.2) over the model's forward: it works for the
TransformerLens and GPT-2 exports alike.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:  # torch is an optional dependency
    import torch

from taotp.export._torch import require


def logits_of(model: torch.nn.Module, tokens: ArrayLike) -> np.ndarray:
    """Logits ``(batch, n, v)`` as numpy, from a TransformerLens bridge or a HF causal LM."""
    torch = require("torch")
    ids = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    if ids.ndim == 1:
        ids = ids[None]
    with torch.no_grad():
        out = model(ids)
    return getattr(out, "logits", out).numpy()


def greedy(model: torch.nn.Module, prompt: ArrayLike, max_steps: int, eos: int | None = None) -> np.ndarray:
    """Prompt + greedily decoded tokens (at most ``max_steps``, stopping after ``eos``).

    Recomputes the whole prefix each step: the exports are small, and this keeps the
    computation the same as the one whose logits we check.
    """
    tokens = np.asarray(prompt, dtype=np.int64)
    if tokens.ndim != 1 or tokens.size == 0:
        raise ValueError(f"prompt must be a non-empty 1-D sequence of ids, got shape {tokens.shape}")
    for _ in range(max_steps):
        next_tok = int(np.argmax(logits_of(model, tokens)[0, -1]))
        tokens = np.append(tokens, next_tok)
        if next_tok == eos:
            break
    return tokens
