"""Every book figure builds (quick mode) into a real, non-blank PNG; figures/ is complete."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from constructions.figures import FIGURES, render_all
from tests.pngcheck import check_png

REPO_FIGURES = Path(__file__).resolve().parent.parent / "figures"


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_builds_a_real_png(name, tmp_path):
    paths = render_all(tmp_path, quick=True, names=[name])
    assert paths == [tmp_path / f"{name}.png"]
    check_png(paths[0])


def test_repo_figures_are_exactly_the_rendered_ones():
    on_disk = sorted(p.name for p in REPO_FIGURES.iterdir() if not p.name.startswith("."))
    assert on_disk == sorted(f"{name}.png" for name in FIGURES), \
        "regenerate with: taotp figures --out figures"
    for path in REPO_FIGURES.glob("*.png"):
        check_png(path)


def test_figure_names_follow_the_book():
    for name in FIGURES:
        kind, *numbers = name.split("_")
        assert kind in ("figure", "exercise") and len(numbers) == 2
        assert all(n.isdigit() for n in numbers), name


def test_render_all_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="unknown figure figure_9_9"):
        render_all(tmp_path, names=["figure_9_9"])


def test_lookup_precision_is_measured():
    from constructions import get_program

    from constructions.figures import lookup_precision

    # 10 entries in d_model 8 are memorised perfectly (Section 3.7); 100 entries in d_model 5
    # are not. The precision is the share of keys that greedy decoding gets right.
    assert lookup_precision(entries=10, vocab_size=100, tok_dims=5, seed=0) == 1.0
    low = lookup_precision(entries=100, vocab_size=100, tok_dims=2, seed=0)
    with pytest.warns(UserWarning, match="built anyway"):  # it fails its certificate
        task = get_program("lookup-table").make(entries=100, vocab_size=100, tok_dims=2,
                                                seed=0, unchecked=True)
    keys = [" ".join(map(str, key)) for key in task.exhaustive()]
    decoded = np.mean([task.run(key) == task.answer(key) for key in keys])
    assert low == decoded < 0.5


def test_plane_coordinates_of_the_circle():
    from taotp.blocks import pos_enc_3d
    from taotp.plotting import plane_coordinates

    t = np.linspace(0, 2 * np.pi, 17)
    xy = plane_coordinates(pos_enc_3d(t).T)
    np.testing.assert_allclose(xy, 3 ** 0.5 * np.stack((np.cos(t), np.sin(t)), axis=1),
                               atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        plane_coordinates(np.zeros((4, 2)))


def test_token_labels():
    from taotp.plotting import token_labels

    def render(ids):
        if ids[0] == 9:
            raise ValueError("no such token")
        return {0: "", 1: " ", 2: "a"}[ids[0]]

    assert token_labels(render, [0, 1, 2, 9, 5], eos=5) == ["⟨0⟩", "␣", "a", "#9", "<eos>"]
    assert token_labels(None, [3]) == ["#3"]


def test_plotting_rejects_bad_input(tmp_path):
    from taotp.plotting import heatmap, new_figure, save

    fig = new_figure(3, 3)
    with pytest.raises(ValueError, match="2-D"):
        heatmap(fig.add_subplot(), np.zeros(3))
    with pytest.raises(ValueError, match="tick labels"):
        heatmap(fig.add_subplot(), np.zeros((2, 2)), yticklabels=["a"])
    with pytest.raises(ValueError, match=".png"):
        save(fig, tmp_path / "figure.jpg")
