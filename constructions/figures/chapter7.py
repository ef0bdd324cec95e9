"""The book's Chapter 7 figures: the positional encodings (7.2-7.13) and Exercise 7.9."""
from __future__ import annotations

import numpy as np

from constructions.figures.common import SEED
from taotp.plotting import draw_circle, heatmap, new_figure, progress


Q, D = 64, 128  # the book's chapter 7 examples: 64 positions, 128 dimensions


def _encoding_map(ax, enc, title):
    heatmap(ax, enc, title=title, xlabel="dimension", ylabel="position", signed=True,
            vmin=-float(np.abs(enc).max()), vmax=float(np.abs(enc).max()), fontsize=9,
            max_ticks=8)


def _random_rotation(q, d, seed=SEED):
    from taotp.encodings import random_rotation_embedding

    return random_rotation_embedding(q, d, seed=seed)


def figure_7_2(quick: bool = False):
    """The OG embedding (Section 7.2) as a map: positions by dimensions."""
    from taotp.encodings import og_embedding

    fig = new_figure(8, 5)
    _encoding_map(fig.add_subplot(), og_embedding(Q, D),
                  f"Figure 7.2: the OG embedding, block size {Q}, d_model {D}")
    return fig


def figure_7_6(quick: bool = False):
    """The OG angles for d_model 1024, and the first 10 positions as complex numbers."""
    from taotp.encodings import og_angles

    thetas = og_angles(1024)
    fig = new_figure(13, 5)
    left, right = fig.subfigures(1, 2, width_ratios=[1, 1.5])
    ax = left.subplots()
    ax.plot(np.arange(len(thetas)), thetas, lw=1.5)
    ax.set_xlabel("i")
    ax.set_ylabel("θ_i (radians)")
    ax.set_title(f"the OG angles for d_model = 1,024 ({len(thetas)} angles)", fontsize=10)
    axes = right.subplots(2, 5)
    for a, ax in enumerate(axes.ravel()):
        z = np.exp(1j * a * thetas)  # position a as a complex vector: one unit per angle
        draw_circle(ax)
        ax.scatter(z.real, z.imag, s=5, c=np.arange(len(thetas)), cmap="viridis")
        ax.set_title(f"position {a}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    right.suptitle("positions 0-9 as complex numbers e^(i·pos·θ_i) (colour: i)", fontsize=10)
    fig.suptitle("Figure 7.6: the OG angles (left); the first 10 positions, depicted as "
                 "complex numbers (right)", fontsize=11)
    return fig


def figure_7_8(quick: bool = False):
    """A random rotation embedding (Section 7.4), seeded, as a map."""
    fig = new_figure(8, 5)
    _encoding_map(fig.add_subplot(), _random_rotation(Q, D),
                  f"Figure 7.8: a random rotation embedding, {Q} positions, {D} dimensions "
                  f"({D // 2} angles, seed {SEED})")
    return fig


def figure_7_9(quick: bool = False):
    """Distinguishability vs dimensions for 256 positions: OG vs random rotation, measured."""
    from taotp.encodings import distinguishability, og_embedding

    q, runs = 256, (3 if quick else 10)
    dims = np.arange(2, 257, 8 if quick else 2)
    og = [distinguishability(og_embedding(q, int(d))) for d in dims]
    rand = np.array([[distinguishability(_random_rotation(q, int(d), seed=s))
                      for s in range(runs)]
                     for d in progress(dims, "figure 7.9", enable=not quick)])
    fig = new_figure(7.5, 4.8)
    ax = fig.add_subplot()
    ax.plot(dims, og, lw=2, label="OG embedding")
    ax.plot(dims, rand.mean(axis=1), lw=2, label=f"random rotation (mean of {runs} seeds)")
    ax.fill_between(dims, rand.min(axis=1), rand.max(axis=1), alpha=0.3, color="tab:orange",
                    label="random: min-max over seeds")
    ax.set_xlabel("dimensions")
    ax.set_ylabel("distinguishability  min diag softmax(F)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=9, loc="lower right")
    ax.grid(alpha=0.3)
    ax.set_title(f"Figure 7.9: distinguishability of {q} positions (measured; "
                 f"OG at d={dims[-1]}: {og[-1]:.3f})", fontsize=10)
    return fig


def figure_7_10(quick: bool = False):
    """The OG embedding's dot products between positions (Section 7.5)."""
    from taotp.encodings import og_embedding

    fig = new_figure(13, 5)
    left, right = fig.subplots(1, 2)
    _encoding_map(left, og_embedding(Q, D), "OG embedding")
    _encoding_map(right, _random_rotation(Q, D), f"random rotation embedding (seed {SEED})")
    fig.suptitle(f"Figure 7.10: the OG embedding (left) and a random rotation embedding "
                 f"(right), {Q} positions, {D} dimensions", fontsize=11)
    return fig


def figure_7_13(quick: bool = False):
    """Hamming and random encodings side by side (Section 7.6)."""
    from taotp.encodings import (
        balanced_hamming_embedding, hamming_embedding, random_normal_encoding,
        random_sign_encoding,
    )

    q, d = 64, 15
    panels = [("random normal", random_normal_encoding(q, d, seed=SEED)),
              ("random sign", random_sign_encoding(q, d, seed=SEED)),
              ("Hamming(15, 4)", hamming_embedding(4, q=q)),
              ("balanced Hamming(15, 4)", balanced_hamming_embedding(4, q=q))]
    fig = new_figure(13, 5.5)
    for ax, (name, enc) in zip(fig.subplots(1, 4), panels):
        _encoding_map(ax, enc, name)
    fig.suptitle(f"Figure 7.13: non linearly shiftable encodings, {q} elements, "
                 f"{d} dimensions", fontsize=11)
    return fig


def exercise_7_9(quick: bool = False):
    """Exercise 7.9's four rotation embeddings (64 positions, 128 dimensions), named."""
    from taotp.encodings import og_embedding, rotation_encoding, uniform_rotation_embedding

    thetas = np.random.default_rng(SEED).uniform(0, 2 * np.pi, D // 2)
    panels = [("OG", og_embedding(Q, D)),
              ("random rotation", rotation_encoding(Q, thetas)),
              ("random rotation, sorted angles", rotation_encoding(Q, np.sort(thetas))),
              ("uniform rotation", uniform_rotation_embedding(Q, D))]
    fig = new_figure(12, 9)
    for ax, (name, enc) in zip(fig.subplots(2, 2).ravel(), panels):
        _encoding_map(ax, enc, name)
    fig.suptitle(f"Exercise 7.9: four rotation embeddings, {Q} positions, {D} dimensions",
                 fontsize=11)
    return fig
