"""Regenerate README's generated sections from code and from bench/results/.

    python bench/readme.py            # rewrite README.md in place
    python bench/readme.py --check    # exit 1 if README's tables are out of date

Sections are delimited by ``<!-- NAME:start -->`` / ``<!-- NAME:end -->``:
``sizes`` is the demo's size table, computed now; ``bench-NAME`` is the file
``bench/results/NAME.md`` (written by ``python bench/NAME.py > bench/results/NAME.md``).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's taotp, not whichever one is installed


def sections(timed=True) -> dict[str, str]:
    """Every generated section; ``timed=False`` leaves out the one with a wall-clock time."""
    from constructions.demo import demo_rows, format_ranges, format_table, range_rows

    out = {"sizes": format_table(demo_rows(), markdown=True),
           "ranges": format_ranges(range_rows(), markdown=True)}
    if timed:
        out["verify-example"] = verify_example()
    for path in sorted((ROOT / "bench" / "results").glob("*.md")):
        text = path.read_text().strip()
        if "\n|---" not in text:  # a plain-text table: keep its alignment
            text = f"```text\n{text}\n```"
        out[f"bench-{path.stem}"] = text
    return out


def verify_example() -> str:
    """A real run of ``taotp verify addition --digits 2 --exhaustive``, as it prints."""
    import contextlib
    import io

    from constructions.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
        main(["verify", "addition", "--digits", "2", "--exhaustive"])
    return "```\n$ taotp verify addition --digits 2 --exhaustive\n" + buffer.getvalue() + "```"


def render(readme: str, parts: dict[str, str]) -> str:
    for name, body in parts.items():
        pattern = re.compile(rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)",
                             re.S)
        readme = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), readme)
    return readme


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    path = ROOT / "README.md"
    old = path.read_text()
    new = render(old, sections(timed=not args.check))
    if args.check:
        if new != old:
            print("README.md is out of date: run python bench/readme.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
