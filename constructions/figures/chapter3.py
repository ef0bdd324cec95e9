"""Figure 3.8: LOOKUP TABLE's decoding precision against the embedding size (a swept fit)."""
from __future__ import annotations

import warnings

import numpy as np

from taotp.plotting import new_figure, progress


# Figure 3.8's sweep. The book: 10 runs, tables of 10 / 100 / 1,000 entries, vocabularies of
# 10 to 1,000. Each point fits a table by gradient descent (1,000 steps, the program's
# default), and a 1,000-entry table over 1,000 tokens costs ~30 s, so the full sweep is
# smaller: 5 runs (3 for 1,000 entries) and no vocabulary of 1,000 for 1,000 entries.
# tok_dims >= 2: layer norm sends every 1-dimensional token vector to 0.
_SWEEP_FULL = {10: dict(vocab_sizes=(10, 100, 1000), tok_dims=(2, 3, 4, 5), runs=5),
               100: dict(vocab_sizes=(10, 100, 1000), tok_dims=(2, 4, 6, 10), runs=5),
               1000: dict(vocab_sizes=(10, 100), tok_dims=(10, 20, 30), runs=3)}
_SWEEP_QUICK = {10: dict(vocab_sizes=(10, 100), tok_dims=(2, 5), runs=2),
                100: dict(vocab_sizes=(10, 100), tok_dims=(3, 8), runs=2)}


def lookup_precision(entries: int, vocab_size: int, tok_dims: int, seed: int) -> float:
    """The share of a random table's keys that the LOOKUP TABLE program decodes right.

    Every key of the table is fed at once (``forward_batch``); the prediction is the argmax
    at the last position, compared with the table's value (the task's reference).
    """
    from constructions import get_program

    from taotp.decoding import forward_batch

    with warnings.catch_warnings():  # measuring the uncertified fits is the point here
        warnings.simplefilter("ignore")
        task = get_program("lookup-table").make(entries=entries, vocab_size=vocab_size,
                                                tok_dims=tok_dims, seed=seed, unchecked=True)
    prompts = np.stack(list(task.exhaustive()))
    expected = np.array([task.reference(p)[0] for p in prompts])
    logits = forward_batch(prompts, task.params, logits_from=-1)[:, -1]
    return float(np.mean(np.argmax(logits, axis=-1) == expected))


def figure_3_8(quick: bool = False):
    """LOOKUP TABLE decoding precision vs d_model, per table size and vocabulary size.

    With several BLAS threads on a busy machine the fits run ~10x slower: set
    ``OPENBLAS_NUM_THREADS=1`` for the full run (about 3 minutes on a loaded 2-core machine).
    """
    sweep = _SWEEP_QUICK if quick else _SWEEP_FULL
    points = [(e, v, t, seed) for e, cfg in sweep.items() for v in cfg["vocab_sizes"]
              for t in cfg["tok_dims"] for seed in range(cfg["runs"])]
    precision = {}
    for e, v, t, seed in progress(points, "figure 3.8"):
        precision[e, v, t, seed] = lookup_precision(e, v, t, seed)
    fig = new_figure(4.3 * len(sweep) + 0.5, 4.4)
    for ax, (e, cfg) in zip(np.atleast_1d(fig.subplots(1, len(sweep))), sweep.items()):
        dims = np.array(cfg["tok_dims"])
        for v in cfg["vocab_sizes"]:
            got = np.array([[precision[e, v, t, seed] for seed in range(cfg["runs"])]
                            for t in dims])
            line, = ax.plot(dims + 3, got.mean(axis=1), marker="o", label=f"vocab {v:,}")
            ax.fill_between(dims + 3, got.min(axis=1), got.max(axis=1), alpha=0.2,
                            color=line.get_color())
        ax.set_xlabel("d_model (tok_dims + 3)")
        ax.set_xticks(dims + 3)
        ax.set_ylabel("decoding precision")
        ax.set_ylim(-0.02, 1.04)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"{e:,} entries ({cfg['runs']} random tables per point)", fontsize=10)
    fig.suptitle("Figure 3.8: LOOKUP TABLE decoding precision vs model size\n(mean, and "
                 "the min-max band over runs; fewer runs and sizes than the book)", fontsize=11)
    return fig
