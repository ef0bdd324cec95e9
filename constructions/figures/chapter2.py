"""The book's Chapter 2 figures: the message's tokens (2.3), layer norm (2.6), HELLO WORLD's
embedding (2.7)."""
from __future__ import annotations

import numpy as np

from constructions.figures.common import SEED
from taotp.plotting import draw_circle, new_figure, plane_coordinates, token_labels


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

    rng = np.random.default_rng(SEED)
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
