"""The book's figures that come from code or data we have, regenerated with matplotlib.

``render_all(out_dir)`` writes every figure of ``FIGURES`` as ``<name>.png`` (names follow the
book's numbering: ``figure_2_3``, ``exercise_7_9``); ``taotp figures [--out DIR] [--quick]``
calls it. Each figure function takes ``quick`` (fewer runs and sizes, for tests) and returns
a matplotlib Figure. Programs are reached through the registry, lazily, never by module.

Figures: 2.3 (the message's tokens on the unit circle), 2.6 (layer norm on R^2 and R^3), 2.7
(HELLO WORLD's 3D token embedding), 3.8 (LOOKUP TABLE decoding precision), 5.1 (MIN's token
embedding), 5.3 (powerpoints), 6.3 (the spike MLP and Theorem 6.1), 7.2, 7.6, 7.8, 7.9, 7.10,
7.13 (the chapter 7 encodings), Exercise 7.9 (four rotation embeddings, named: the book
asks which is which) and Exercise 6.21 (a traced step of DECIMAL MULTIPLICATION).

What differs from the book: Figure 3.8 sweeps fewer sizes and runs (see ``_SWEEP_FULL``; it
still shows the book's findings: 10 entries perfect from d_model 7-8, 100 entries from 13,
1,000 entries over 100 tokens from 33, and 1,000 entries over 10 tokens stuck near 25%).
Figure 7.9 is measured, and contradicts the text's "> 0.99 from about 10 dimensions" for
random rotations (see ``taotp.encodings``). Figure 6.3 of the book is the multi-digit
addition code; the spike plot it is cited for is drawn here under that number.

Cost: ``quick`` takes a few seconds in all; the full run about 3-4 minutes, nearly all of it
Figure 3.8's 138 table fits (run it with ``OPENBLAS_NUM_THREADS=1`` on a busy machine:
multi-threaded BLAS on small matrices is ~10x slower there).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from taotp.plotting import (
    draw_circle, heatmap, new_figure, plane_coordinates, progress, save, token_labels,
)

_SEED = 0  # every random figure is seeded: the committed PNGs are reproducible


# --- Chapter 2 ------------------------------------------------------------------------

def _vocab_labels(task) -> list[str]:
    """A label per token id of a registered program (<eos> named, a space shown as ␣)."""
    return token_labels(task.render, np.arange(task.params["tok_emb"].shape[0]), eos=task.eos)


def figure_2_3(quick: bool = False):
    """HELLO WORLD's symbols on the 2D unit circle, as the Simpleformer places them (Fig 2.4)."""
    from constructions import get_program

    task = get_program("hello-world").make()
    labels = _vocab_labels(task)
    t = np.linspace(0, 6, len(labels))  # Figure 2.4's angles: 6 = 2 pi - epsilon
    fig = new_figure(5.5, 5.5)
    ax = fig.add_subplot()
    draw_circle(ax)
    ax.scatter(np.cos(t), np.sin(t), s=40, c=t, cmap="viridis", zorder=3)
    for angle, label in zip(t, labels):
        ax.annotate(label, (1.17 * np.cos(angle), 1.17 * np.sin(angle)), ha="center",
                    va="center", fontsize=11)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.45, 1.45)
    ax.axhline(0, color="0.9", lw=0.8, zorder=0)
    ax.axvline(0, color="0.9", lw=0.8, zorder=0)
    ax.set_title('Figure 2.3: the tokens of "Hello World!" on the unit circle\n'
                 f"({len(labels)} symbols at angles linspace(0, 6), as in Figure 2.4)",
                 fontsize=10)
    return fig


def figure_2_6(quick: bool = False):
    """Layer norm maps all of R^2 to two points, and R^3 onto the sqrt(3)-circle."""
    from taotp.blocks import pos_enc_3d
    from taotp.model import layer_norm

    rng = np.random.default_rng(_SEED)
    fig = new_figure(11, 5.2)
    left = fig.add_subplot(1, 2, 1)
    xs = rng.normal(0, 1.5, (400, 2))
    xs = xs[np.abs(xs[:, 0] - xs[:, 1]) > 1e-3]  # y = x itself has no image (0 / 0)
    ys = layer_norm(xs)
    up = ys[:, 0] < 0  # sent to (-1, 1)
    left.scatter(*xs[up].T, s=8, c="tab:blue", alpha=0.5, label="x < y: sent to (-1, 1)")
    left.scatter(*xs[~up].T, s=8, c="tab:orange", alpha=0.5, label="x > y: sent to (1, -1)")
    left.scatter([-1, 1], [1, -1], s=220, marker="*", c=["tab:blue", "tab:orange"],
                 edgecolors="k", zorder=4, label="layer_norm's only outputs")
    line = np.array([-5, 5])
    left.plot(line, line, "k--", lw=1, label="y = x: undefined (std 0)")
    left.set_xlim(-5, 5)
    left.set_ylim(-5, 5)
    left.set_aspect("equal")
    left.legend(fontsize=8, loc="lower right")
    left.set_title("R²: every point goes to (1, -1) or (-1, 1)", fontsize=10)

    right = fig.add_subplot(1, 2, 2, projection="3d")
    xs = rng.uniform(-2.4, 2.4, (120, 3))
    ys = layer_norm(xs)
    circle = pos_enc_3d(np.linspace(0, 2 * np.pi, 200))
    right.plot(*circle, color="k", lw=1.2, label="the √3-circle ⊥ (1, 1, 1)")
    right.scatter(*xs.T, s=6, c="0.6", alpha=0.6, label="points of R³")
    angles = np.arctan2(*plane_coordinates(ys)[:, ::-1].T)
    right.scatter(*ys.T, s=14, c=angles, cmap="hsv", label="their layer_norm", depthshade=False)
    for x, y in zip(xs[:25], ys[:25]):
        right.plot(*np.stack((x, y)).T, color="0.7", lw=0.5)
    right.quiver(0, 0, 0, 1.5, 1.5, 1.5, color="k", lw=2, arrow_length_ratio=0.15)
    right.text(1.6, 1.6, 1.7, "(1, 1, 1)", fontsize=9)
    right.view_init(elev=22, azim=20)
    for axis in "xyz":
        getattr(right, f"set_{axis}lim")(-2.5, 2.5)
    right.set_box_aspect((1, 1, 1))
    right.legend(fontsize=8, loc="upper left")
    right.set_title("R³: every point lands on the √3-circle", fontsize=10)
    fig.suptitle("Figure 2.6: layer normalization collapses R² to two points but keeps a "
                 "circle in R³", fontsize=11)
    return fig


def figure_2_7(quick: bool = False):
    """HELLO WORLD's token embedding: evenly spaced on the sqrt(3)-circle in R^3."""
    from constructions import get_program

    from taotp.blocks import pos_enc_3d

    task = get_program("hello-world").make()
    emb = task.params["tok_emb"]
    labels = _vocab_labels(task)
    fig = new_figure(6.5, 6.2)
    ax = fig.add_subplot(projection="3d")
    ax.plot(*pos_enc_3d(np.linspace(0, 2 * np.pi, 200)), color="0.6", lw=1)
    ax.scatter(*emb.T, s=40, c=np.arange(len(emb)), cmap="viridis", depthshade=False)
    for point, label in zip(emb, labels):
        ax.text(*(1.18 * point), label, fontsize=11, ha="center", va="center")
    ax.quiver(0, 0, 0, 1, 1, 1, color="k", arrow_length_ratio=0.12)
    ax.text(1.1, 1.1, 1.1, "(1, 1, 1)", fontsize=8)
    ax.view_init(elev=18, azim=-25)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    ax.set_title('Figure 2.7: the tokens of "Hello World!" on the √3-circle in R³, '
                 "perpendicular to (1, 1, 1)\n(HELLO WORLD's tok_emb, d_model = 3)",
                 fontsize=10)
    return fig


# --- Chapter 3 ------------------------------------------------------------------------

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


# --- Chapter 5 ------------------------------------------------------------------------

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


# --- Chapter 6 ------------------------------------------------------------------------

def figure_6_3(quick: bool = False):
    """The standard spike (Lemma 6.1) and a function fitted exactly on a set (Theorem 6.1)."""
    from taotp.blocks import build_MLP

    def mlp(x, M1, b1, M2, b2):
        hidden = np.maximum(x[:, None] @ M1 + b1, 0.0)
        return hidden, hidden @ M2 + b2

    fig = new_figure(11, 4.4)
    left, right = fig.subplots(1, 2)
    xs = np.linspace(-2.5, 2.5, 501)
    M1, b1, M2, b2 = build_MLP(np.array([0.0]), np.array([[1.0]]))  # the standard spike
    hidden, out = mlp(xs, M1, b1, M2, b2)
    for j in range(3):
        left.plot(xs, hidden[:, j] * M2[j, 0], lw=1, ls="--",
                  label=f"{M2[j, 0]:+g} · ReLU(x" + (f" {b1[j]:+g})" if b1[j] else ")"))
    left.plot(xs, out[:, 0], "k", lw=2.2, label="MLP(x): their sum")
    left.set_ylim(-2.2, 3.6)
    left.legend(fontsize=8, loc="upper left")
    left.set_title("Lemma 6.1: three ReLUs make a standard spike", fontsize=10)

    rng = np.random.default_rng(_SEED)
    S = np.array([0.0, 1.0, 1.5, 3.0, 4.0, 4.5, 6.0])
    f = rng.uniform(-2, 3, (len(S), 1))
    M1, b1, M2, b2 = build_MLP(S, f)
    xs = np.linspace(-1, 7, 801)
    hidden, out = mlp(xs, M1, b1, M2, b2)
    for s in range(len(S)):  # each spike alone: its 3 hidden units times their M2 rows
        right.plot(xs, hidden[:, 3 * s:3 * s + 3] @ M2[3 * s:3 * s + 3, 0], lw=0.8, ls="--",
                   color="0.6", label="the spikes, one per point" if s == 0 else None)
    right.plot(xs, out[:, 0], "k", lw=2, label="MLP(x)")
    right.scatter(S, f[:, 0], s=60, c="tab:red", zorder=4, label="f on S (hit exactly)")
    right.legend(fontsize=8)
    right.set_title(f"Theorem 6.1: one spike per point, {3 * len(S)} hidden units "
                    f"(spacing {np.min(np.diff(S)):g})", fontsize=10)
    fig.suptitle("Figure 6.3: the MLP can compute any function on a finite set of reals "
                 "(build_MLP)", fontsize=11)
    return fig


# --- Chapter 7 ------------------------------------------------------------------------

Q, D = 64, 128  # the book's chapter 7 examples: 64 positions, 128 dimensions


def _encoding_map(ax, enc, title):
    heatmap(ax, enc, title=title, xlabel="dimension", ylabel="position", signed=True,
            vmin=-float(np.abs(enc).max()), vmax=float(np.abs(enc).max()), fontsize=9,
            max_ticks=8)


def _random_rotation(q, d, seed=_SEED):
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
                  f"({D // 2} angles, seed {_SEED})")
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
    _encoding_map(right, _random_rotation(Q, D), f"random rotation embedding (seed {_SEED})")
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
    panels = [("random normal", random_normal_encoding(q, d, seed=_SEED)),
              ("random sign", random_sign_encoding(q, d, seed=_SEED)),
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

    thetas = np.random.default_rng(_SEED).uniform(0, 2 * np.pi, D // 2)
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


def exercise_6_21(quick: bool = False):
    """Exercise 6.21 (DECIMAL MULTIPLICATION): the third digit of 123 x 456, traced.

    Layer 1's six heads read a_i and b_(m-i) (or the '*' and '=', worth 0); layer 2's head
    weighs the output positions 10^(m-k); its MLP rounds 0.9 s_2 = 27 to the digit 0."""
    from constructions import get_program
    from taotp.trace import trace

    task = get_program("multiplication").make(n_digits=3)
    return trace(task, "123*456", step=2, mlp_units="smallest",
                 title="Exercise 6.21: DECIMAL MULTIPLICATION, 123 x 456 = 056088 "
                       "(emitted least significant digit first)")


# --- All of them ----------------------------------------------------------------------

FIGURES: dict[str, Callable[..., object]] = {
    "figure_2_3": figure_2_3,
    "figure_2_6": figure_2_6,
    "figure_2_7": figure_2_7,
    "figure_3_8": figure_3_8,
    "figure_5_1": figure_5_1,
    "figure_5_3": figure_5_3,
    "figure_6_3": figure_6_3,
    "figure_7_2": figure_7_2,
    "figure_7_6": figure_7_6,
    "figure_7_8": figure_7_8,
    "figure_7_9": figure_7_9,
    "figure_7_10": figure_7_10,
    "figure_7_13": figure_7_13,
    "exercise_7_9": exercise_7_9,
    "exercise_6_21": exercise_6_21,
}


def render_all(out_dir: str | Path = "figures", quick: bool = False,
               names: list[str] | None = None) -> list[Path]:
    """Write every figure (or those ``names``) as ``out_dir/<name>.png``; returns the paths."""
    names = list(FIGURES) if names is None else list(names)
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure {', '.join(unknown)}; valid: {', '.join(FIGURES)}")
    paths = []
    for name in progress(names, "figures"):
        paths.append(save(FIGURES[name](quick=quick), Path(out_dir) / f"{name}.png"))
    return paths
