"""RASP pictures show every node's values by layer; ``taotp rasp`` evaluates library programs."""
from __future__ import annotations

import pytest

from constructions.rasp_lib import LIBRARY, blog
from taotp import rasp
from constructions.cli import main
from taotp.rasp.draw import show
from tests.pngcheck import check_png


def texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def test_draw_writes_a_png_with_every_node_and_its_values(tmp_path):
    program = blog.flip()
    path = tmp_path / "flip.png"
    rasp.draw(program, "hello", path)
    check_png(path, min_px=200, max_px=4000)
    fig = rasp.draw(program, "hello")
    shown = texts(fig)
    for node in rasp.nodes(program):
        assert node.label in shown, node.label
    assert [t for t in shown if t in "olleh"][-5:] == list("olleh")  # the answer row, last
    titles = [t for t in shown if t.startswith("layer") or t.startswith("input")]
    assert len(titles) == rasp.layers(program).depth + 1


def test_draw_shows_a_selector_as_its_matrix():
    sel = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT).named("before")
    fig = rasp.draw(rasp.SelectorWidth(sel), "abc")
    colors = fig.axes[0].collections[0].get_facecolors()
    selector_cells = colors[3:12]  # after the indices row: the 3x3 matrix
    filled = [tuple(c[:3]) != (1.0, 1.0, 1.0) for c in selector_cells]
    assert filled == [False, False, False, True, False, False, True, True, False]  # k < q


def test_show_formats_cells():
    assert [show(v) for v in (None, True, 2.0, 1 / 3, "abcdefg", 7)] == \
        ["·", "T", "2", "0.333", "abcd…", "7"]


def test_draw_refuses_empty_and_overlong_inputs():
    with pytest.raises(ValueError, match="length 1..40"):
        rasp.draw(rasp.tokens, "")
    with pytest.raises(ValueError, match="length 1..40"):
        rasp.draw(rasp.tokens, "x" * 41)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_rasp_evaluates_and_draws(capsys, tmp_path):
    code, out, _ = run(capsys, "rasp", "blog-flip", "hello", "--draw", str(tmp_path / "f.png"))
    assert code == 0 and out.splitlines()[0] == str(list("olleh"))
    assert "2 attention layers" in out and (tmp_path / "f.png").exists()
    code, out, _ = run(capsys, "rasp", "paper-sort", "3,1,2")
    assert code == 0 and out.splitlines()[0] == "[1, 2, 3]"


def test_cli_rasp_list_names_every_library_program(capsys):
    code, out, _ = run(capsys, "rasp", "list")
    assert code == 0 and all(name in out for name in LIBRARY)


@pytest.mark.parametrize("argv, message", [
    (["rasp", "nope", "x"], "unknown RASP program 'nope'; known: blog-add"),
    (["rasp", "paper-sort", "a,b"], "reads integers"),
    (["rasp", "blog-add", "1+2+3"], "outside this program's precondition"),
    (["rasp", "blog-flip"], "give an input"),
])
def test_cli_rasp_errors_are_messages(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and message in err and out == ""
