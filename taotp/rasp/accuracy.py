"""Error accounting: a bound on how far every value the compiled model carries may be off.

Each Var gets ``err``: for a number, a bound on ``|stored value - true value|`` in the value's
own units; for a one-hot, a bound on the L1 mass misplaced over its slots. Every reader
checks its margin against what it reads, so a compile either meets every margin or raises
a ValueError naming the node (never a silent wrong answer).

The bound, per operation (``eps`` machine epsilon, ``tol`` the softmax leak the hardening
gap allows, ``n`` the residual's squared norm where it is read):

- reading a number ``x`` (unit ``u``) with weight ``w`` from the residual adds
  ``|w| (err(x) + NOISE eps sqrt(n) u)``: layer norm and the mean-free basis mix every
  coordinate, so each read is off by a few epsilons of the whole residual's norm;
- a head averaging numbers of bound ``B`` writes ``err(values) + NOISE eps (sqrt(n) u + B)
  + 2 leak max(B, |default|)``; a head copying a one-hot writes ``err(values) + 2 leak``;
  a selector reading one-hots off by ``e`` scores off by ``s = gain e`` (shift terms:
  ``2 gain e``), so softmax leaks ``e^s tol`` instead of ``tol`` (refused past ``MAX_LEAK``);
- a plateau lookup over points ``ts`` (smallest gap ``g``, largest ``|t|`` ``T``) stays on
  its plateau when the carried error plus ``NOISE eps T`` is below ``g / 4``; far from a point
  its ReLUs are large and cancel, losing ``loss = 4 eps T / g m`` (m points) of each output
  row, so it writes ``(loss + NOISE eps) B_out``, where ``B_out`` is the output's bound
  (the largest row of a number's encoding, in value units) or 1 for a one-hot;
- a staircase lookup (one ramp per change of output, ``g`` now the smallest gap at a step)
  checks the same margin; each step loses ``16 eps R / g`` (``R`` the largest ``|t|`` on the
  side its ramp is active), summed over its steps (:func:`staircase`);
- the unembedding picks the nearest output value: its error ``e`` must stay below half the
  smallest gap ``g`` between output values (a half for a one-hot), and a number's margin
  ``g (g - 2 e)`` must beat the rounding of its logits ``NOISE eps R sqrt(n)`` (``R`` the
  largest output row's norm); read directly from an output head's scratch (``unembed``),
  the same with the scratch points for values and the read's noise added to ``e``
  (:func:`decoded`).
"""
from __future__ import annotations

import numpy as np

from taotp.rasp import recipes
from taotp.rasp.ir import Var

# Noise a lookup must tolerate, as a multiple of machine epsilon times its largest input.
NOISE = 100.0
MAX_LOSS = 0.05  # the largest rounding error a plateau lookup may make (snapping takes 1/4)
MAX_LEAK = 0.01  # the largest softmax mass unselected keys may get (downstream checks it)


def read_error(var: Var, errors: dict, eps: float, norm: float, weight: float = 1.0,
               coefficients=None) -> float:
    """Error of ``weight * value`` of a number, or of ``sum_j c_j slot_j`` of a one-hot,
    read from a residual of squared norm ``norm``."""
    noise = NOISE * eps * norm ** 0.5
    carried = errors.get(var.label, 0.0)
    if var.numerical:
        return abs(weight) * (carried + noise * var.unit)
    c = np.abs(np.asarray(coefficients, dtype=np.float64))
    return float(c.max()) * carried + float(np.sqrt((c * c).sum())) * noise


def plateau(label: str, ts: np.ndarray, eps: float, carried: float = 0.0) -> float:
    """Check a plateau lookup over the points ``ts`` whose input is off by up to ``carried``
    (in the units of ``ts``); return its relative output error ``loss + NOISE eps``."""
    gap, top = recipes.min_gap(ts), float(np.abs(ts).max()) or 1.0
    if len(np.unique(ts)) != len(ts):
        raise ValueError(f"{label}: two inputs read as the same number (too many values, "
                         f"too close together for this dtype)")
    # Far from its point, a plateau's four ReLUs are large and cancel: each loses about
    # eps * 4 top / gap, and all the points below the input add up.
    loss = eps * 4 * top / gap * len(ts)
    if gap / 4 <= NOISE * eps * top + carried or loss > MAX_LOSS:
        raise ValueError(f"{label}: its {len(ts)} inputs are {gap:.3g} apart at magnitude "
                         f"{top:.3g} and read with error up to {carried:.3g}, too close to "
                         f"tell apart under this dtype's rounding (eps {eps:.3g}; estimated "
                         f"lookup error {loss:.2g}, at most {MAX_LOSS})")
    return loss + NOISE * eps


def staircase(label: str, ts: np.ndarray, outputs, eps: float, carried: float = 0.0) -> float:
    """Check a staircase lookup (``recipes.staircase_lookup``) over the points ``ts`` whose
    input is off by up to ``carried``; return its relative output error.

    Only the gaps at its steps matter: an input stays off every ramp when its error plus
    ``NOISE eps T`` is below a quarter of that step's gap ``g``. A ramp's ReLUs have slope
    ``2 / g`` and are active on one side only, where inputs reach ``|t| <= R``; each rounds by
    about ``eps 2 R 2 / g``, and their difference, times a change of at most twice the
    output's bound, loses ``16 eps R / g`` of it per step. (Scaling that by each step's own
    change of output instead compiled sums of 10^4 with gaps 10^-2 0.01 off, measured: the
    two ReLUs read the input with rounding of their own, which this bound covers.)"""
    if len(np.unique(ts)) != len(ts):
        raise ValueError(f"{label}: two inputs read as the same number (too many values, "
                         f"too close together for this dtype)")
    steps = recipes.staircase_steps(ts, outputs)
    top = float(np.abs(ts).max()) or 1.0
    if not steps:
        return NOISE * eps
    far = (float(np.max(ts)), float(np.min(ts)))
    gap = min(hi - lo for lo, hi, _, _ in steps)
    loss = sum(16 * eps * max(abs(far[0] if rising else far[1]), abs(lo), abs(hi)) / (hi - lo)
               for lo, hi, _, rising in steps)
    if gap / 4 <= NOISE * eps * top + carried or loss > MAX_LOSS:
        raise ValueError(f"{label}: its {len(steps)} steps are {gap:.3g} apart (of "
                         f"{len(ts)} inputs) at magnitude {top:.3g} and read with error up "
                         f"to {carried:.3g}, too close to tell apart under this dtype's "
                         f"rounding (eps {eps:.3g}; estimated lookup error {loss:.2g}, at "
                         f"most {MAX_LOSS})")
    return loss + NOISE * eps


def erase(ts: np.ndarray, rows: np.ndarray, lookup: tuple, carried: float, eps: float,
          norm: float, share: float = 1.0) -> bool:
    """Whether a piecewise-linear erase (``recipes.piecewise_linear``) of a head's scratch
    leaves a negligible residue beyond the scratch's own error (which any erase leaves).

    At ``t_i + delta`` it is off by ``fit + slope delta + rounding``: ``fit`` its miss at the
    points (slopes within 1e-12 are merged), ``slope`` the steepest segment's, ``delta`` the
    input's error ``carried + NOISE eps T``, and each ReLU rounds by ``NOISE eps`` of its
    output. That residue stays in the scratch dims, where nothing reads it: it only adds its
    square to the residual's squared norm (``norm`` here, more later), so every later layer
    norm scale moves by a relative ``residue^2 / 2 norm``. Each erase keeps ``residue^2``
    under ``share eps norm``, with ``share`` one over the number of scratch heads: all of
    them together move a scale by under ``eps / 2``, 1/200 of the ``NOISE eps`` of the
    residual every read already allows."""
    M1, b1, M2, b2 = lookup
    hidden = np.maximum(ts[:, None] @ M1 + b1, 0.0)
    fit = float(np.abs(hidden @ M2 + b2 - rows).sum(axis=1).max())
    slope = float(np.abs(np.cumsum(M2, axis=0)).sum(axis=1).max())
    top = float(np.abs(ts).max())
    delta = carried + NOISE * eps * top
    rounding = NOISE * eps * (float((np.abs(M2).sum(axis=1) * (top + delta + np.abs(b1))).sum())
                              + float(np.abs(b2).sum()))
    residue = fit + slope * delta + rounding
    return residue * residue <= share * eps * norm


def size(var: Var) -> float:
    """The largest output row of ``var``'s encoding, in the value's units (1: one-hot)."""
    return var.bound if var.numerical else 1.0


def selector_error(op, errors: dict, gain: float) -> float:
    """How much of a head's score margin the errors of the Vars its terms read may take.

    A one-hot off by L1 mass ``e`` moves a score by ``gain e``. A shift term scores
    ``gain (1 - d^2)`` with ``d = k - q - shift``; off by ``delta`` (the key's error plus
    the query's), a selected key still scores ``gain (1 - delta^2)`` and an unselected one
    (``|d| >= 1``) at most ``gain (1 - (1 - delta)^2)``: the margin shrinks by ``2 gain delta``.
    A circle term scales cosines by ``gain / (1 - cos(2 pi / m))``: that times ``delta``."""
    total = 0.0
    for term in op.terms:
        delta = errors.get(term.keys.label, 0.0) + errors.get(term.queries.label, 0.0)
        if term.circle:  # points off by delta move the cosine by up to delta
            total += gain * delta / recipes.circle_margin(term.circle_size)
        else:
            total += gain * delta if term.shift is None else 2 * gain * delta
    return total


def leak(op, errors: dict, gain: float, tolerance: float) -> float:
    """The softmax mass a head's unselected keys may get: the hardening gap bounds it by
    ``tolerance`` (``recipes.hardening_gap``); scores off by ``s`` (``selector_error``)
    multiply that by ``e^s``. Refused past ``MAX_LEAK``."""
    shift = selector_error(op, errors, gain)
    mass = tolerance * np.exp(min(shift, 700.0))
    if mass > MAX_LEAK:
        raise ValueError(f"{op.out.label}: its selector reads values off by enough to move "
                         f"its scores by {shift:.2g}, so softmax may leak {mass:.2g} "
                         f"(at most {MAX_LEAK})")
    return mass


def head_error(op, errors: dict, eps: float, norm: float, mass: float) -> tuple:
    """The error of what a head writes: ``(copied one-hot,)``, or one bound per scratch
    column (the average of values, then ``1 / (w + 1)``), in the values' units. ``mass``:
    the softmax mass its unselected keys may get (``leak``)."""
    count = 2 * mass + NOISE * eps * norm ** 0.5  # the BOS key's share 1 / (w + 1)
    if op.kind == "copy":
        return (errors.get(op.values.label, 0.0) + 2 * mass + NOISE * eps,)
    if op.kind == "width":
        return (count,)
    values = op.values
    bound = max(values.bound, abs(float(op.default or 0.0)), abs(float(values.bos or 0.0)))
    average = read_error(values, errors, eps, norm) + NOISE * eps * bound + 2 * mass * bound
    return (average,) if op.kind == "mean" else (average, count)


class DecodeError(ValueError):
    """The output head's scratch points are too close to decode directly in this dtype
    (``compile`` then cleans them up with an MLP, as for any other head)."""


def decoded(label: str, ys, written: float, eps: float, norm: float, reach: float,
            share: float = 1.0) -> None:
    """Check the unembedding reading an output head's scratch directly (``unembed``):
    ``ys`` the numbers it decodes, ``written`` the error of what it reads in their units,
    ``norm`` the final residual's squared norm, ``reach`` the largest output row's norm
    (``unembed``), ``share`` the smallest factor the logits carry (a sum's ``1 / (w + 1)``).
    Raises :class:`DecodeError` where the margin is too small (see :func:`check_output`)."""
    ys = np.unique(np.asarray(ys, dtype=np.float64))
    gap = recipes.min_gap(ys) if len(ys) > 1 else np.inf
    e = written + NOISE * eps * norm ** 0.5 / share
    if 2 * e >= gap or share * gap * (gap - 2 * e) <= NOISE * eps * reach * norm ** 0.5:
        raise DecodeError(f"{label}: its {len(ys)} scratch points are {gap:.3g} apart, read "
                          f"with error up to {e:.3g}: too close to decode directly (eps "
                          f"{eps:.3g})")


def _far_gap(values: list, resolution: float) -> float:
    """The smallest distance from a value to one it must not be mistaken for: the nearest
    beyond the resolution from it (not merely its neighbour: 10^9, 10^9 + 1, 10^9 + 2 are
    each within 10^-9 of the next, but the ends are not)."""
    gap = np.inf
    for i, a in enumerate(values):
        for b in values[i + 1:]:
            if b - a > resolution * max(1.0, abs(a), abs(b)):
                gap = min(gap, b - a)
                break
    return gap


def check_output(out: Var, errors: dict, eps: float, resolution: float, reach: float,
                 norm: float) -> None:
    """The unembedding picks the nearest value: the output's error ``e`` must stay below half
    the gap ``g`` between its values (half a one-hot), and for numbers (scored by quadratic
    maximisation, ``(x - c)^2 - (x - v)^2``) the margin ``g (g - 2 e)`` between the nearest
    value and the next must beat the logits' rounding ``NOISE eps reach sqrt(norm)``: layer
    norm brings the residual (squared norm ``norm``) to a fixed size before its products
    with the output rows (norm at most ``reach``, ``unembed``) are rounded. (Rounding taken
    as ``3 B^2`` instead, a read of ``(v - 1000) / 0.01``, outputs 0.11 apart at 10^5, came
    out one value off in float64.) Numbers within ``resolution`` (relative, at least 1) of
    each other count as one value: the compiled model promises numbers to that precision
    (1e-9 in float64), so where some do, the error must stay below half of it."""
    e = errors.get(out.label, 0.0)
    if not out.numerical:
        # A one-hot's slot scores 1 - e, any other at most e. On a circle of m points (the
        # copied one-hot's error, up to e a slot, moves the point by up to m e) the nearest
        # scores 1 - m e, any other at most cos(2 pi / m) + m e.
        m = out.circle_size
        margin, e = (recipes.circle_margin(m), m * e) if out.circle else (1.0, e)
        if margin - 2 * e <= NOISE * eps * reach * norm ** 0.5:
            raise ValueError(f"{out.label}: the output {'circle' if out.circle else 'one-hot'}"
                             f" may be off by {e:.3g}, or its logits round by more than "
                             f"their margin (eps {eps:.3g})")
        return
    values = sorted(float(v) for v in out.values)
    close = [b - a <= resolution * max(1.0, abs(a), abs(b)) for a, b in zip(values, values[1:])]
    gap = _far_gap(values, resolution)  # inf: all one value (to the resolution)
    if any(close) and 2 * e > resolution * max(1.0, out.bound):
        raise ValueError(f"{out.label}: some output values are closer than the promised "
                         f"resolution ({resolution:g} relative at magnitude {out.bound:.3g}) "
                         f"and computed with error up to {e:.3g}: the nearest may be off by "
                         f"more than that resolution")
    rounding = NOISE * eps * reach * norm ** 0.5
    if 2 * e >= gap or gap * (gap - 2 * e) <= rounding:
        raise ValueError(f"{out.label}: its output values are {gap:.3g} apart at magnitude "
                         f"{out.bound:.3g}, computed with error up to {e:.3g}: the "
                         f"unembedding cannot pick the nearest under this dtype's rounding "
                         f"(eps {eps:.3g})")
