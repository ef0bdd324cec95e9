"""The book's Chapter 5 figures: MIN's token embedding (5.1) and the powerpoints (5.3)."""
from __future__ import annotations

import numpy as np

from taotp.plotting import draw_circle, new_figure, plane_coordinates


def figure_5_1(quick: bool = False):
    """MIN's token embedding (numbers 0-9) on the upper half of the sqrt(3)-circle."""
    from constructions import get_program

    params = get_program("min").make(vocab_size=10, block_size=10).params
    points = plane_coordinates(params["tok_emb"])
    fig = new_figure(6, 4.2)
    ax = fig.add_subplot()
    draw_circle(ax, 3 ** 0.5)
    ax.scatter(*points.T, s=40, zorder=3)
    for i, (x, y) in enumerate(points):
        ax.annotate(str(i), (1.13 * x, 1.13 * y), ha="center", va="center", fontsize=11)
    # The head's score is (positive query) x (key = projection on pos_enc_3d(0)): hard
    # attention picks the token furthest along this axis, the smallest number.
    ax.annotate("", xy=(1.3, 0), xytext=(0, 0),
                arrowprops=dict(arrowstyle="->", color="tab:red", lw=1.5))
    ax.text(0.0, 0.12, "key axis: attention picks the\ntoken furthest along it (MIN)",
            color="tab:red", fontsize=9)
    ax.set_xlim(-2.2, 2.2)
    ax.set_ylim(-0.4, 2.2)
    ax.set_xlabel("(1, -1, 0)/√2 component")
    ax.set_ylabel("(1, 1, -2)/√6 component")
    ax.set_title("Figure 5.1: MIN's token embedding for the numbers 0-9\n"
                 "(tok_emb in the plane ⊥ (1, 1, 1): the open upper half of the √3-circle)",
                 fontsize=10)
    return fig


def figure_5_3(quick: bool = False):
    """SORT's powerpoints (its token embedding's angles) in 1D and on the half circle."""
    from constructions import get_program

    n = 10
    tok_emb = get_program("sort").make(n=n, block_size=2 * n).params["tok_emb"]
    x, y = plane_coordinates(tok_emb[:, :3]).T  # the p_i half of the embedding
    t = np.mod(np.arctan2(y, x), 2 * np.pi)
    t[t > 1.5 * np.pi] -= 2 * np.pi  # p_0 sits at angle 0 (maybe -1e-17)
    fig = new_figure(11, 3.8)
    left, right = fig.subplots(1, 2, width_ratios=[1.3, 1])
    left.axhline(0, color="0.7", lw=1, zorder=0)
    left.scatter(t, np.zeros(n), s=30, zorder=3)
    for i in range(n):
        _label_point(left, i, t[i], 0.0, t, dy=0.25, gap=0.2)
    left.set_ylim(-1, 1)
    left.set_yticks([])
    left.set_xlabel("p_i (stretched onto [0, π])")
    left.set_title("1D: p_0 = 0, p_(i+1) = p_i + 2^-i", fontsize=10)
    draw_circle(right)
    right.scatter(np.cos(t), np.sin(t), s=30, zorder=3)
    for i in range(n):
        _label_point(right, i, 1.15 * np.cos(t[i]), 1.15 * np.sin(t[i]), t, dy=0.0, gap=0.1)
    right.set_xlim(-1.35, 1.35)
    right.set_ylim(-0.2, 1.35)
    right.set_title("2D: the same points on the upper half circle", fontsize=10)
    fig.suptitle(f"Figure 5.3: powerpoints for {n} numbers (SORT's tok_emb, n={n}): each "
                 "number is nearest to the next, then the one after", fontsize=11)
    return fig


def _label_point(ax, i, x, y, t, dy, gap):
    """Label point i unless it is crowded by its predecessor: crowded ones share a label."""
    crowded = i > 0 and t[i] - t[i - 1] < gap
    if not crowded:
        last = i
        while last + 1 < len(t) and t[last + 1] - t[last] < gap:
            last += 1
        text = str(i) if last == i else f"{i}…{last}"
        ax.annotate(text, (x, y + dy), ha="center", va="center", fontsize=10)
