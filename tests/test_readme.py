"""README keeps its promises: the two commands first, CI runs the test one, tables current."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands():
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_the_two_commands():
    install_demo, install_test = commands()[:2]
    assert "pip install" in install_demo and install_demo.endswith("taotp demo")
    assert "pip install" in install_test and "pytest" in install_test


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands()[1] in ci


def test_generated_tables_are_current():
    # PYTHONPATH: the script must import this checkout's code, not an installed copy's.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "readme.py"), "--check"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr


def python_blocks():
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_python_examples_run(tmp_path):
    """Every Python example in README runs as printed (in a scratch folder)."""
    assert len(python_blocks()) >= 3
    for block in python_blocks():
        result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path,
                                capture_output=True, text=True,
                                env={**__import__("os").environ, "MPLBACKEND": "Agg"})
        assert result.returncode == 0, result.stderr[-2000:]
