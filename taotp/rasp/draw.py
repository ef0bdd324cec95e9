"""Pictures like the RASPy blog's: a program's every value on one input, layer by layer.

Each SOp is a row of cells; each selector is its query-by-key matrix (queries down, keys
across, with their values on the sides when the selector is a plain ``Select``). Nodes appear
in computation order, grouped by the attention layer that computes (or, for selectors, uses)
them. matplotlib is imported only here, only when drawing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from taotp.plotting import new_figure, save
from taotp.rasp.evaluate import check_input, evaluate_all
from taotp.rasp.expr import RASPExpr, Select, Selector
from taotp.rasp.graph import attention_layer, nodes

MAX_DRAW_LENGTH = 40  # cells stay readable up to here
LABEL_WIDTH = 5.0  # in cells


def show(value: Any) -> str:
    """A value as it appears in a cell: short numbers, bare strings, "·" for None."""
    if value is None:
        return "·"
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return f"{value:.3g}" if value != int(value) else str(int(value))
    text = str(value)
    return text if len(text) <= 5 else text[:4] + "…"


def _groups(program: RASPExpr) -> list:
    """(layer, nodes) pairs in computation order; selectors sit in the layer that uses them."""
    layer = attention_layer(program)
    grouped: dict[int, list] = {}
    for node in nodes(program):
        at = layer[node.label] + (1 if isinstance(node, Selector) else 0)
        grouped.setdefault(at, []).append(node)
    return sorted(grouped.items())


def _cell(ax, x: float, y: float, text: str, color: str) -> None:
    """Queue one cell (drawn together at the end: one collection, not a patch per cell)."""
    ax.cells.append((x, y, color))
    if text:
        ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=7)


def _flush_cells(ax) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle
    rects = [Rectangle((x, y), 1, 1) for x, y, _ in ax.cells]
    ax.add_collection(PatchCollection(rects, facecolors=[c for _, _, c in ax.cells],
                                      edgecolors="#888888", linewidths=0.6))


def _color(value: Any) -> str:
    if value is True:
        return "#9ecae1"
    if value is None:
        return "#eeeeee"
    return "white"


def _draw_sop(ax, y: float, node: RASPExpr, values: list) -> float:
    ax.text(LABEL_WIDTH - 0.3, y + 0.5, node.label, ha="right", va="center", fontsize=8)
    for i, v in enumerate(values):
        _cell(ax, LABEL_WIDTH + i, y, show(v), _color(v))
    return y + 1.4


def _draw_selector(ax, y: float, node: Selector, matrix: list, values: dict) -> float:
    n = len(matrix)
    ax.text(LABEL_WIDTH - 0.3, y + 0.5, node.label, ha="right", va="center", fontsize=8,
            fontweight="bold")
    ax.text(LABEL_WIDTH - 0.3, y + 1.1, "queries ↓ keys →", ha="right", va="center",
            fontsize=6, color="#666666")
    top = y
    if isinstance(node, Select):
        for k, v in enumerate(values[node.keys.label]):
            ax.text(LABEL_WIDTH + k + 0.5, y + 0.5, show(v), ha="center", va="center",
                    fontsize=7, color="#08519c")
        for q, v in enumerate(values[node.queries.label]):
            ax.text(LABEL_WIDTH - 0.5, y + 1.5 + q, show(v), ha="center", va="center",
                    fontsize=7, color="#a63603")
        top = y + 1
    for q, row in enumerate(matrix):
        for k, selected in enumerate(row):
            _cell(ax, LABEL_WIDTH + k, top + q, "", "#3182bd" if selected else "white")
    return top + n + 0.6


def draw(program: RASPExpr, xs: Any, path: str | Path | None = None, causal: bool = False):
    """Draw every node of ``program`` on input ``xs``; save a PNG to ``path`` if given.
    Returns the (headless) matplotlib Figure.

    >>> from taotp import rasp
    >>> hist = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
    >>> fig = rasp.draw(hist, "hello")
    >>> len(fig.axes)
    1
    """
    xs = check_input(xs)
    if not 1 <= len(xs) <= MAX_DRAW_LENGTH:
        raise ValueError(f"draw takes inputs of length 1..{MAX_DRAW_LENGTH} (cells stay "
                         f"readable), got length {len(xs)}")
    values = evaluate_all(program, xs, causal)
    groups = _groups(program)
    n = len(xs)
    height = sum(1.0 + sum((n + 1.6 if isinstance(v, Selector) else 1.4) for v in group)
                 for _, group in groups)
    width = LABEL_WIDTH + n + 0.5
    fig = new_figure(0.42 * width, 0.42 * height + 0.3)
    fig.set_layout_engine("none")  # the cells fill the page; a layout pass costs seconds
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
    ax.cells = []
    y = 0.0
    for layer, group in groups:
        title = "input and MLPs" if layer == 0 else f"layer {layer}: attention, then MLPs"
        ax.text(0, y + 0.5, title, ha="left", va="center", fontsize=9, fontstyle="italic")
        ax.plot([0, width], [y + 0.95, y + 0.95], color="#cccccc", linewidth=0.8)
        y += 1.0
        for node in group:
            if isinstance(node, Selector):
                y = _draw_selector(ax, y, node, values[node.label], values)
            else:
                y = _draw_sop(ax, y, node, values[node.label])
    _flush_cells(ax)
    ax.set_xlim(0, width)
    ax.set_ylim(y, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    if path is not None:
        save(fig, path)
    return fig
