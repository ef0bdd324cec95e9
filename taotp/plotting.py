"""Shared plotting helpers for the book's figures and for traces.

matplotlib is imported lazily, inside the functions, so that ``import taotp`` never needs it.
Figures are built as bare ``matplotlib.figure.Figure`` objects (no pyplot state, nothing to
close, nothing that needs a display); where pyplot has not been imported yet the Agg backend
is selected first, so everything works headless.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported lazily, where a figure is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

# Colour maps: signed data on a diverging map centred at 0, magnitudes on a sequential one.
SIGNED = "RdBu_r"
MAGNITUDE = "viridis"


def new_figure(width: float, height: float, **kwargs) -> Figure:
    """A headless ``Figure`` of ``width`` x ``height`` inches, with constrained layout."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        # A notebook that already chose a backend keeps it; scripts and tests get Agg.
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def save(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG (making the folder if needed) and return the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"figures are written as .png files, not {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def sparse_ticks(n: int, max_ticks: int = 16) -> np.ndarray:
    """At most ``max_ticks`` evenly spaced tick positions among ``range(n)``."""
    step = max(1, int(np.ceil(n / max_ticks)))
    return np.arange(0, n, step)


def heatmap(ax: Axes, data: np.ndarray, *, title: str = "", xlabel: str = "", ylabel: str = "",
            xticklabels: Sequence[str] | None = None, yticklabels: Sequence[str] | None = None,
            signed: bool | None = None, symlog: bool = False, colorbar: bool = True,
            max_ticks: int = 16, fontsize: float = 8, cmap: str | None = None,
            vmin: float | None = None, vmax: float | None = None) -> AxesImage:
    """Draw a matrix as a heat map with labelled axes; returns the image.

    ``signed`` picks a diverging map centred at 0 (default: when the data has negatives).
    ``symlog`` colours by a symmetric log scale, for residual streams whose entries span
    many orders of magnitude (hardened attention and messy cleanup use factors like 1e8).
    Labels are given for every row/column when there are few, else on a sparse grid of
    indices.
    """
    from matplotlib.colors import Normalize, SymLogNorm

    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D array, got shape {data.shape}")
    finite = data[np.isfinite(data)]
    if signed is None:
        signed = bool(finite.size and finite.min() < 0)
    big = float(np.abs(finite).max()) if finite.size else 1.0
    big = big if big > 0 else 1.0
    if symlog:
        small = _linthresh(finite, big)
        norm = SymLogNorm(linthresh=small, vmin=-big if signed else 0.0, vmax=big, base=10)
    elif signed:
        norm = Normalize(vmin=-big if vmin is None else vmin, vmax=big if vmax is None else vmax)
    else:
        norm = Normalize(vmin=0.0 if vmin is None else vmin, vmax=big if vmax is None else vmax)
    image = ax.imshow(data, aspect="auto", interpolation="nearest", norm=norm,
                      cmap=cmap or (SIGNED if signed else MAGNITUDE))
    ax.set_title(title, fontsize=fontsize + 1)
    ax.set_xlabel(xlabel, fontsize=fontsize)
    ax.set_ylabel(ylabel, fontsize=fontsize)
    _label_axis(ax.set_xticks, data.shape[1], xticklabels, max_ticks, fontsize,
                rotation=90 if xticklabels is not None else 0)
    _label_axis(ax.set_yticks, data.shape[0], yticklabels, max_ticks, fontsize)
    if colorbar:
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        if symlog:
            # A few round ticks: the default symlog ticks crowd around 0 and overlap.
            mid = float(10 ** np.round((np.log10(norm.linthresh) + np.log10(big)) / 2))
            if norm.linthresh < mid < big / 10:
                ticks = [0.0, mid, big] if not signed else [-big, -mid, 0.0, mid, big]
            else:
                ticks = [0.0, big] if not signed else [-big, 0.0, big]
            bar.set_ticks(ticks, labels=[_short(t) for t in ticks])
        bar.ax.tick_params(labelsize=fontsize - 1)
    return image


def _short(value: float) -> str:
    """A compact label for a colour-bar tick: 0, 0.25, 12, 3e+06."""
    if value == 0:
        return "0"
    return f"{value:.2g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.0e}"


def _linthresh(finite, big):
    """The linear range of a symlog colour scale: the smallest magnitude worth seeing."""
    nonzero = np.abs(finite[np.abs(finite) > big * 1e-12])
    small = float(np.percentile(nonzero, 5)) if nonzero.size else big
    return max(min(small, big / 10), big * 1e-9)


def _label_axis(set_ticks, n, labels, max_ticks, fontsize, rotation=0):
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} tick labels for {n} rows/columns")
    if labels is not None and n <= 2 * max_ticks:
        set_ticks(np.arange(n), labels=list(labels), fontsize=fontsize, rotation=rotation)
    else:
        ticks = sparse_ticks(n, max_ticks)
        shown = [str(t) for t in ticks] if labels is None else [labels[t] for t in ticks]
        set_ticks(ticks, labels=shown, fontsize=fontsize, rotation=rotation)


def token_labels(render: Callable[[Sequence[int]], str] | None, ids: Sequence[int],
                 eos: int | None = None) -> list[str]:
    """One readable label per token id: ``render([id])`` where that works, else ``#id``.

    ``eos`` is labelled ``<eos>``; spaces show as ``␣``; an empty rendering (a terminator
    that renders as nothing) shows as ``⟨id⟩``.
    """
    labels = []
    for i in np.asarray(ids).tolist():
        if eos is not None and i == eos:
            labels.append("<eos>")
            continue
        text = None
        if render is not None:
            try:
                text = render([i])
            except (ValueError, KeyError, IndexError, TypeError):
                text = None
        if text is None:
            labels.append(f"#{i}")
        elif not str(text).strip():
            labels.append(f"⟨{i}⟩" if text == "" else str(text).replace(" ", "␣"))
        else:
            labels.append(str(text))
    return labels


# The plane perpendicular to (1, 1, 1), where the book's 3D encodings live (Section 2.3):
# an orthonormal basis, the same one as pos_enc_3d's (t = 0 along the first vector).
PLANE_BASIS = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]) / np.array([[2 ** 0.5], [6 ** 0.5]])


def plane_coordinates(points3: np.ndarray) -> np.ndarray:
    """Coordinates ``(n, 2)`` of 3D points in the plane perpendicular to (1, 1, 1)."""
    points3 = np.asarray(points3, dtype=np.float64)
    if points3.ndim != 2 or points3.shape[1] != 3:
        raise ValueError(f"plane_coordinates needs points of shape (n, 3), got {points3.shape}")
    return points3 @ PLANE_BASIS.T


def draw_circle(ax: Axes, radius: float = 1.0, **kwargs) -> None:
    """A circle of ``radius`` around the origin on 2D axes (equal aspect)."""
    t = np.linspace(0, 2 * np.pi, 361)
    ax.plot(radius * np.cos(t), radius * np.sin(t), **({"color": "0.75", "lw": 1} | kwargs))
    ax.set_aspect("equal")


def progress(iterable: Iterable, desc: str, total: int | None = None,
             enable: bool = True) -> Iterable:
    """A tqdm progress bar (to stderr) for the slow figures."""
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not enable, leave=False)
