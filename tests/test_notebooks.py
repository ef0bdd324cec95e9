"""Execute every exercise notebook top to bottom (einops-style): any error fails the test.

Notebooks are stored without outputs; that is checked too. Heavy cells read the environment
variable ``TAOTP_FULL`` (unset here) to choose small sizes.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell
# The three longest notebooks (a minute or more each on a busy 2-core machine) run with -m slow.
SLOW = {"03_lookup_table", "06_decimal_addition", "07_the_og_encodings"}
ROOT = Path(__file__).resolve().parent.parent


def test_there_is_a_notebook_per_chapter():
    chapters = {p.name[:2] for p in NOTEBOOKS}
    assert chapters == {f"{i:02d}" for i in range(1, 11)}, sorted(chapters)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} has stored outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has a count"


@pytest.mark.parametrize("path", [pytest.param(p, marks=[pytest.mark.slow] * (p.stem in SLOW))
                                  for p in NOTEBOOKS], ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    # The kernel imports this checkout's taotp and constructions, not an installed copy's.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    env_full = os.environ.pop("TAOTP_FULL", None)  # the suite always runs the small sizes
    try:
        client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                         resources={"metadata": {"path": str(path.parent)}})
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        if env_full is not None:
            os.environ["TAOTP_FULL"] = env_full
