"""``taotp compile FILE.py``: compile the user's own RASP program file to weights.

Unlike taotp's loaders (which never execute code), this IMPORTS ``FILE.py``: the file is the
user's own Python, run as it is, and must define ``program`` (a RASP SOp built with
``from taotp import rasp``). The params are saved with ``--out`` (.npz, or TAOTP text as
.taotp/.txt); the file holds the params only: the model is an encoder unless compiled with
``--causal``, and reads BOS (id 0), then ``1..len(vocab)`` for the vocabulary in the order
printed.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np


def parse_vocab(text: str) -> list:
    """``"a,b,c"`` -> ['a', 'b', 'c']; when every item is an integer, ints: ``"0,1,2"``."""
    items = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not items:
        raise ValueError("--vocab is empty: give tokens separated by commas, e.g. 0,1,2 or a,b,c")
    if all(re.fullmatch(r"-?[0-9]+", p) for p in items):
        return [int(p) for p in items]
    return items


def load_program(path: str | Path):
    """Import the user's file (this runs its code) and return its ``program``."""
    from taotp import rasp

    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise ValueError(f"{path}: give an existing .py file that defines `program`")
    name = f"taotp_user_program_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    program = getattr(module, "program", None)
    if program is None:
        raise ValueError(f"{path} defines no `program` (a RASP SOp to compile)")
    if not isinstance(program, rasp.SOp):
        raise TypeError(f"{path}: `program` must be a RASP SOp, not {type(program).__name__}")
    return program


def add_parser(sub) -> None:
    """The ``compile`` subcommand of the ``taotp`` command."""
    p = sub.add_parser("compile", help="compile your RASP program file (IMPORTS and runs it)",
                       description="taotp compile FILE.py --vocab a,b,c --max-seq-len N: "
                                   "imports FILE.py (your own code, executed) and compiles "
                                   "its `program`")
    p.add_argument("file", help="a .py file defining `program` (it is imported: code runs)")
    p.add_argument("--vocab", required=True, help="tokens, comma-separated: 0,1,2 or a,b,c")
    p.add_argument("--max-seq-len", type=int, required=True)
    p.add_argument("--out", help="save the params (.npz, or TAOTP text .taotp/.txt)")
    p.add_argument("--causal", action="store_true", help="causal attention (default: encoder)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.set_defaults(handler=compile_file)


def compile_file(args) -> int:
    """The ``taotp compile`` handler: compile, print the report, save with ``--out``."""
    from taotp import rasp
    from taotp.textformat import save

    program = load_program(args.file)
    compiled = rasp.compile(program, vocab=parse_vocab(args.vocab),
                            max_seq_len=args.max_seq_len, causal=args.causal,
                            dtype=np.dtype(args.dtype))
    kind = ("causal" if args.causal else "causally masked: every selector reads only keys at "
            "or before its query" if compiled.causal else "encoder (non-causal)")
    print(f"compiled {args.file}: {kind}, {args.dtype}, max_seq_len {args.max_seq_len}")
    first = 1 + len(compiled.vocab)
    print("input ids: 0 BOS, " + ", ".join(f"{i + 1}={v!r}" for i, v in enumerate(compiled.vocab)))
    print("output ids: " + ", ".join(f"{first + i}={v!r}" for i, v in enumerate(compiled.outputs)))
    print(compiled.report())
    if args.out:
        save(compiled.params, args.out)
        print(f"wrote {args.out} (params only: run it "
              f"{'causally' if compiled.causal else 'with causal=False'})")
    return 0
