"""What a program does inside: record a forward pass and draw it.

``record(params, tokens)`` runs ``taotp.model.transformer`` with a hook that keeps what it
computes on the way: per layer the attention weights ``(h, n, m)``, the residual stream after
the embedding and after each sublayer, the MLP's hidden activations, and the final logits.
``trace(task_or_params, prompt_or_text)`` decodes greedily and draws one decode step: every
head's attention pattern as a query x key heat map labelled with the tokens, the residual
stream at every stage, the MLP units that fire, and the output logits.

Einsum axes as in ``taotp.model`` (n query position, m key position, h head, d model
dimension, k head dimension, j model dimension as a projection's input, v vocabulary).

>>> import numpy as np
>>> from taotp import base_layer, base_params, transformer
>>> params = base_params(vocab_size=5, block_size=4, d_model=3)
>>> params["layers"].append(base_layer(n_heads=2, d_model=3, d_ff=4, d_head=3))
>>> rec = record(params, np.array([1, 2, 3]))
>>> rec.attn[0].shape, rec.hidden[0].shape, rec.logits.shape
((2, 3, 3), (3, 4), (3, 5))
>>> bool(np.array_equal(rec.logits, transformer(np.array([1, 2, 3]), **params)))
True
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from taotp.model import transformer
from taotp.params import check_params, check_tokens
from taotp.plotting import token_labels
from taotp.trace_panels import (
    distinct_stages, draw_logits, draw_panels, draw_query_residual, draw_residual,
)
from taotp.program import Task

if TYPE_CHECKING:  # matplotlib is imported only where a figure is drawn
    from matplotlib.figure import Figure


MAX_COLUMNS = 4  # panels per row in a trace (6 for deep programs)
MAX_STAGES = 12  # more residual stages than this are drawn at the query position only


@dataclass(frozen=True)
class Recording:
    """Everything one forward pass computes, per layer, for a sequence of ``n`` tokens."""
    tokens: np.ndarray                 # (n,)
    embedding: np.ndarray              # (n, d): tok_emb[tokens] + pos_emb[:n]
    attn: tuple[np.ndarray, ...]       # per layer (h, n, m): query n's weights over keys m
    after_attn: tuple[np.ndarray, ...]  # per layer (n, d): residual after the attention
    hidden: tuple[np.ndarray, ...]     # per layer (n, d_ff): the MLP's ReLU activations
    after_mlp: tuple[np.ndarray, ...]  # per layer (n, d): residual after the MLP
    logits: np.ndarray                 # (n, v)

    @property
    def residual(self) -> list[tuple[str, np.ndarray]]:
        """The residual stream at every stage, labelled, in order."""
        stages = [("embedding", self.embedding)]
        for i, (a, m) in enumerate(zip(self.after_attn, self.after_mlp)):
            stages += [(f"layer {i} after attention", a), (f"layer {i} after MLP", m)]
        return stages


def record(params: dict, tokens: ArrayLike, causal: bool = True) -> Recording:
    """Run ``transformer(tokens, **params)`` and keep every intermediate result."""
    check_params(params)
    tokens = check_tokens(tokens, params["tok_emb"].shape[0], params["pos_emb"].shape[0])
    seen = defaultdict(list)
    logits = transformer(tokens, **params, causal=causal,
                         hook=lambda name, value: seen[name].append(value))
    return Recording(tokens, seen["embedding"][0],
                     tuple(np.transpose(w, (2, 0, 1)) for w in seen["attn"]),
                     tuple(seen["after_attn"]), tuple(seen["hidden"]),
                     tuple(seen["after_mlp"]), logits)


@dataclass(frozen=True)
class Step:
    """One decode step: the context the model sees and the token it predicts."""
    context: np.ndarray
    predicted: int
    index: int   # 0-based among the decode steps
    total: int   # how many decode steps there were


def decode_steps(params: dict, prompt: ArrayLike, max_steps: int,
                 eos: int | None = None) -> list[Step]:
    """Greedy-decode ``prompt`` and list every step (context, predicted token)."""
    from taotp.decoding import decode_cached

    prompt = np.asarray(prompt)
    sequence = decode_cached(prompt, params, max_steps=max_steps, eos=eos)
    total = len(sequence) - len(prompt)
    return [Step(sequence[:len(prompt) + s], int(sequence[len(prompt) + s]), s, total)
            for s in range(total)]


def trace(task_or_params: Task | dict, prompt_or_text: str | Sequence[int], step: int = -1, *,
          max_steps: int | None = None, top_k: int = 24, title: str = "",
          render: Callable[[Sequence[int]], str] | None = None, max_vocab: int = 40,
          mlp_units: str | Sequence[int] = "largest") -> Figure:
    """Draw decode step ``step`` (0-based; -1, the last, by default); returns the Figure.

    ``task_or_params`` is a built ``Task`` (then ``prompt_or_text`` is human input, or
    prompt ids; its ``steps``, ``eos`` and ``render`` are used) or a params dict (then
    ``prompt_or_text`` is token ids and ``max_steps`` tokens are decoded, 1 by default).
    Of the MLP units active at the traced query, ``top_k`` are drawn: by ``mlp_units``,
    the "largest" activations, or the "smallest" (the units nearest their ReLU kink: in a
    spike MLP, Theorem 6.1, the spike that fires rather than the ramps that cancel), or
    the given unit indices. Logits are drawn for the whole vocabulary when it has at most
    ``max_vocab`` tokens, else for the top 20. An encoder task (``Task.encoder``) has no
    decode steps: its one forward pass over the prompt, with its mask, is drawn (``step`` -1).
    """
    if isinstance(task_or_params, Task):
        task = task_or_params
        params = task.params
        prompt = task.encode(prompt_or_text) if isinstance(prompt_or_text, str) \
            else np.asarray(prompt_or_text)
        steps = task.steps(prompt) if max_steps is None else max_steps
        eos, render = task.eos, render or task.render
    elif isinstance(task_or_params, dict):
        params = task_or_params
        if isinstance(prompt_or_text, str):
            raise TypeError("with raw params, pass the prompt as token ids, not text")
        prompt, steps, eos = np.asarray(prompt_or_text), 1 if max_steps is None else max_steps, None
    else:
        raise TypeError(f"trace needs a Task or a params dict, not {type(task_or_params).__name__}")
    if not isinstance(step, (int, np.integer)) or isinstance(step, bool):
        raise TypeError(f"step must be an integer, not {step!r}")
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, not {top_k!r}")
    if isinstance(mlp_units, str) and mlp_units not in ("largest", "smallest"):
        raise ValueError(f"mlp_units must be 'largest', 'smallest' or unit indices, "
                         f"not {mlp_units!r}")
    if isinstance(task_or_params, Task) and task_or_params.encoder:
        if step != -1:
            raise ValueError(f"step {step}: an encoder program runs one forward pass, "
                             f"there are no decode steps (leave step at -1)")
        return draw_recording(record(params, prompt, causal=task.causal), None, render=render,
                              title=title, top_k=top_k, max_vocab=max_vocab, eos=eos,
                              mlp_units=mlp_units, encoder=True)
    all_steps = decode_steps(params, prompt, steps, eos)
    if not all_steps:
        raise ValueError("nothing was decoded (0 steps): there is no decode step to trace")
    if not -len(all_steps) <= step < len(all_steps):
        raise ValueError(f"step {step} out of range: the program decoded {len(all_steps)} "
                         f"tokens (valid steps: 0..{len(all_steps) - 1}, or negative)")
    chosen = all_steps[step]
    return draw_recording(record(params, chosen.context), chosen, render=render, title=title,
                          top_k=top_k, max_vocab=max_vocab, eos=eos, mlp_units=mlp_units)


def draw_recording(rec: Recording, step: Step | None = None, *,
                   render: Callable[[Sequence[int]], str] | None = None, title: str = "",
                   top_k: int = 24, max_vocab: int = 40, eos: int | None = None,
                   mlp_units: str | Sequence[int] = "largest", encoder: bool = False) -> Figure:
    """Draw a recording: attention per layer and head, MLP units, residual stream, logits.
    (``encoder``: the recording is an encoder's one pass; the title lists every output.)

    The last position is the query of the decode step (outlined in red); its logits are the
    ones drawn, with the predicted token in red. Deep programs get smaller panels, and more
    than ``MAX_STAGES`` residual stages are drawn as one map of the query's residual stream.
    """
    from taotp.plotting import new_figure

    n, d = rec.embedding.shape

    def label(ids):
        return token_labels(render, ids, eos=eos)

    labels = label(rec.tokens)
    rows = [f"{i}: {t}" for i, t in enumerate(labels)]
    # One panel per head and per MLP, layer after layer, in a grid.
    panels = [("head", i, h) for i, a in enumerate(rec.attn) for h in range(a.shape[0])]
    panels += [("mlp", i, 0) for i, h in enumerate(rec.hidden) if h.shape[1] > 0]
    panels.sort(key=lambda p: (p[1], p[0] == "mlp", p[2]))
    many = len(panels) > 4 * MAX_COLUMNS
    columns = max(2, min(MAX_COLUMNS + 2 * many, len(panels)))
    side = float(np.clip(0.32 * n + 1.2, 2.4, 3.4 if many else 7.0))  # a panel, inches
    mlp_cell = float(np.clip(0.22 * top_k + 1.5, 3.0, 7.0))  # room for top_k unit labels
    has_mlp = any(kind == "mlp" for kind, _, _ in panels)
    cell = side if many or not has_mlp else max(side, mlp_cell)
    res_w = float(np.clip(0.16 * d + 2.0, 3.2, 11.0))        # one residual-stream panel
    stages = distinct_stages(rec)
    compact = len(stages) > MAX_STAGES
    width = max(8.0, columns * cell,
                res_w if compact else min(len(stages), MAX_COLUMNS) * res_w)
    n_res_rows = 1 if compact else -(-len(stages) // max(1, int(width // res_w)))
    per_row = -(-len(stages) // n_res_rows)  # balance the rows
    grid_rows = -(-len(panels) // columns)
    res_h = max(3.0, 0.22 * len(stages) + 1.5) if compact else side + 0.7
    heights = ([grid_rows * (side + 0.8)] if panels else []) + [res_h] * n_res_rows + [3.2]
    fig = new_figure(width, sum(heights) + 0.8)
    sub = list(fig.subfigures(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0])
    if panels:
        draw_panels(sub.pop(0), rec, panels, labels, rows, grid_rows, columns, top_k,
                     mlp_units)
    if compact:
        draw_query_residual(sub[0], stages)
    else:
        draw_residual(sub[:n_res_rows], stages, rows, per_row)
    draw_logits(sub[-1], rec, label, max_vocab)
    context = " ".join(labels)
    if len(context) > 120:  # a long prompt: the title keeps its end, next to the prediction
        context = "… " + context[-118:]
    head = f"{title}: " if title else ""
    if step is not None:
        predicted = label([step.predicted])[0]
        head += (f"decode step {step.index} (of 0..{step.total - 1}); "
                 f"context [{context}] -> predicts {predicted}")
    else:
        head += f"forward pass on [{context}]"
        if encoder:
            outputs = label(list(rec.logits[1:].argmax(-1)))
            head += f" -> outputs [{' '.join(outputs)}]; the last position predicts {outputs[-1]}"
    fig.suptitle(head, fontsize=11)
    return fig
