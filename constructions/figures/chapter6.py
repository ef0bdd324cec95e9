"""Figure 6.3 (the spike MLP of Theorem 6.1) and Exercise 6.21 (a traced multiplication step)."""
from __future__ import annotations

import numpy as np

from constructions.figures.common import SEED
from taotp.plotting import new_figure


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

    rng = np.random.default_rng(SEED)
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
