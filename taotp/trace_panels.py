"""The panels of a trace figure (``taotp.trace.draw_recording``): attention heads and MLP
units in a grid, the residual stream stage by stage, and the output logits.

matplotlib is imported inside each function, only when a figure is drawn.
"""
from __future__ import annotations

import numpy as np


def draw_panels(sfig, rec, panels, labels, rows, n_rows, n_cols, top_k, mlp_units):
    """Every head's attention pattern and every layer's MLP units, in a grid."""
    from matplotlib.patches import Rectangle

    from taotp.plotting import heatmap

    axes = sfig.subplots(n_rows, n_cols, squeeze=False).ravel()
    image = None
    for k, (ax, (kind, i, h)) in enumerate(zip(axes, panels)):
        first = k % n_cols == 0
        if kind == "mlp":
            draw_mlp(ax, rec.hidden[i], i, rows, top_k, mlp_units)
            continue
        weights = rec.attn[i][h]
        n = len(weights)
        image = heatmap(ax, weights, title=f"layer {i} head {h}", xlabel="key",
                        ylabel="query" if first else "", xticklabels=labels,
                        yticklabels=rows if first else [""] * n, signed=False, vmin=0.0,
                        vmax=1.0, cmap="Blues", colorbar=False, max_ticks=24)
        ax.add_patch(Rectangle((-0.5, n - 1.5), n, 1, fill=False, ec="red", lw=1.5))
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    if image is not None:
        bar = sfig.colorbar(image, ax=list(axes), shrink=0.6, pad=0.01, label="attention")
        bar.ax.tick_params(labelsize=7)
    has_mlp = any(kind == "mlp" for kind, _, _ in panels)
    sfig.suptitle("Attention weights of every head (rows: queries; red: this step's query)"
                  + (", and the MLP units that fire" if has_mlp else ""), fontsize=10)


def draw_mlp(ax, hidden, i, rows, top_k, mlp_units="largest"):
    """The MLP units that fire at this step's query (the last row), chosen by ``mlp_units``."""
    from taotp.plotting import heatmap

    d_ff = hidden.shape[1]
    at_query = np.abs(hidden[-1])
    active = np.flatnonzero(at_query > 0)
    if not isinstance(mlp_units, str):
        shown = np.unique(np.asarray(mlp_units, dtype=np.int64))
        if shown.size == 0 or shown.min() < 0 or shown.max() >= d_ff:
            raise ValueError(f"mlp_units must be indices in [0, {d_ff}), got {list(mlp_units)}")
        what = f"{len(shown)} chosen units"
    elif not active.size:
        ax.text(0.5, 0.5, f"no unit of {d_ff} fires\nat this step's query", ha="center",
                va="center")
        ax.set_title(f"layer {i} MLP hidden (d_ff={d_ff})", fontsize=9)
        ax.set_axis_off()
        return
    else:
        sign = -1.0 if mlp_units == "largest" else 1.0
        shown = np.sort(active[np.argsort(sign * at_query[active], kind="stable")[:top_k]])
        what = (f"all {len(active)} active" if len(shown) == len(active)
                else f"{len(shown)} {mlp_units} of {len(active)} active")
    heatmap(ax, hidden[:, shown], title=f"layer {i} MLP hidden units (d_ff={d_ff}):\n"
            f"{what} at the query", xlabel="hidden unit", xticklabels=[str(u) for u in shown],
            yticklabels=rows, signed=False, symlog=True, max_ticks=40)


def distinct_stages(rec):
    """The residual stages to draw: an MLP-less sublayer that changed nothing is skipped."""
    stages = rec.residual
    keep = [stages[0]]
    for (name, x), (_, before) in zip(stages[1:], stages[:-1]):
        if "MLP" in name and np.array_equal(x, before):
            continue
        keep.append((name, x))
    return keep


def draw_residual(sfigs, stages, rows, per_row):
    """The whole residual stream at each stage, ``per_row`` stages to a row of subfigures."""
    from taotp.plotting import heatmap

    for r, sfig in enumerate(sfigs):
        chunk = stages[r * per_row:(r + 1) * per_row]
        axes = sfig.subplots(1, per_row, squeeze=False)[0]
        for ax, (name, x) in zip(axes, chunk):
            heatmap(ax, x, title=f"residual: {name}", xlabel="model dimension",
                    yticklabels=rows, symlog=True, max_ticks=24)
        for ax in axes[len(chunk):]:
            ax.set_axis_off()
        if r == 0:
            sfig.suptitle("Residual stream (rows: positions; colour on a symmetric log scale)",
                          fontsize=10)


def draw_query_residual(sfig, stages):
    """The residual stream of this step's query (the last position), stage after stage."""
    from taotp.plotting import heatmap

    ax = sfig.subplots()
    heatmap(ax, np.stack([x[-1] for _, x in stages]), title="", xlabel="model dimension",
            yticklabels=[name for name, _ in stages], symlog=True, max_ticks=40)
    sfig.suptitle(f"Residual stream at this step's query, after the embedding and every "
                  f"sublayer ({len(stages)} stages; symmetric log colour scale)", fontsize=10)


def draw_logits(sfig, rec, label, max_vocab):
    """The logits of the last position, and how far below the argmax each one is (log scale:
    hardened programs often win by a hair, which a linear bar chart cannot show)."""
    logits = rec.logits[-1]
    v = len(logits)
    ids = np.arange(v) if v <= max_vocab else np.argsort(-logits, kind="stable")[:20]
    left, right = sfig.subplots(1, 2, width_ratios=[3, 2])
    predicted = int(np.argmax(logits))
    colors = ["tab:red" if t == predicted else "tab:gray" for t in ids]
    x = np.arange(len(ids))
    left.bar(x, logits[ids], color=colors)
    left.axhline(0.0, color="0.5", lw=0.8)
    gaps = logits[predicted] - logits[ids]
    right.bar(x, np.where(gaps > 0, gaps, np.nan), color="tab:gray")
    positive = gaps[gaps > 0]
    if positive.size:
        from matplotlib.ticker import NullFormatter

        right.set_yscale("log")
        right.set_ylim(positive.min() / 3, positive.max() * 3)
        right.yaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels clash
    for ax in (left, right):
        ax.set_xticks(x, labels=label(ids), fontsize=8, rotation=90 if len(ids) > 12 else 0)
    which = "every token" if v <= max_vocab else f"the top 20 of {v} tokens"
    runner_up = int(np.argsort(-logits, kind="stable")[1]) if v > 1 else predicted
    margin = float(logits[predicted] - logits[runner_up])
    left.set_title(f"Output logits at the last position, {which} "
                   f"(red: argmax = {label([predicted])[0]})", fontsize=10)
    right.set_title(f"how far below the argmax (log scale); margin over "
                    f"{label([runner_up])[0]}: {margin:.3g}", fontsize=10)
