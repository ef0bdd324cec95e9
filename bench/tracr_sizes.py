"""tracr's sizes for every library RASP program, measured by compiling it with tracr itself.

Runs in its own environment, never taotp's (tracr pulls in jax; docs/tracr.md says how):

    python -m venv /work/tracrvenv && /work/tracrvenv/bin/pip install -e ".[tracr]"
    /work/tracrvenv/bin/python bench/tracr_sizes.py --check 20
    /work/tracrvenv/bin/python bench/tracr_sizes.py --programs tracr-length --sizes 5x10 --update

Each program of ``constructions.rasp_lib.LIBRARY`` is translated node by node into tracr's
RASP (same node types, functions, predicates, defaults and numerical/categorical encodings:
tracr's semantics are taotp's) and compiled by ``compile_rasp_to_model`` with tracr's defaults
(``compiler_bos``, ``mlp_exactness=100``, non-causal), at the vocabularies of
``bench/rasp.py`` (``vocabulary()``). For the tracr-lib programs tracr's own ``lib`` function is
compiled too, as a cross-check of the translation. A row records layers, heads, residual width
(d_model), MLP hidden width and the parameter count of the assembled model (every array in its
``params``), or tracr's refusal. ``--check N`` also runs the compiled model on N seeded random
inputs against ``rasp.evaluate``. Results go to ``bench/results/tracr_sizes.json``, which
``bench/rasp.py`` reads for its tracr column.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import random
import sys
import time
from pathlib import Path

import jax
import numpy as np
from tracr.compiler import compiling
from tracr.compiler import lib as tlib
from tracr.rasp import rasp as trasp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import header  # noqa: E402
from bench.rasp import BY_LENGTH, LIBRARY, vocabulary  # noqa: E402
from taotp import rasp  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "tracr_sizes.json"
BOS = compiling.COMPILER_BOS
TOLERANCE = 1e-5  # relative, for numerical outputs: tracr computes in float32


class Untranslatable(ValueError):
    """A taotp RASP node that tracr's RASP has no way to say."""


def _one(node, made: dict, rewrite: bool):
    """The tracr node for one taotp node whose children are already in ``made``."""
    kids = [made[c.label] for c in node.children]
    if isinstance(node, rasp.TokensType):
        return trasp.tokens
    if isinstance(node, rasp.IndicesType):
        return trasp.indices
    if isinstance(node, rasp.Map):
        return trasp.Map(node.f, kids[0], simplify=False)  # taotp's Map is already fused
    if isinstance(node, rasp.LinearSequenceMap):
        return trasp.LinearSequenceMap(*kids, node.fst_fac, node.snd_fac)
    if isinstance(node, rasp.SequenceMap):
        return trasp.SequenceMap(node.f, *kids)
    if isinstance(node, rasp.Full):
        if rewrite:  # tracr compiles no Full; a constant Map of tokens is the same SOp
            return trasp.Map(lambda _, fill=node.fill: fill, trasp.tokens, simplify=False)
        return trasp.Full(node.fill)
    if isinstance(node, rasp.Select):
        predicate = node.predicate
        if isinstance(predicate, rasp.Comparison):
            predicate = trasp.Comparison[predicate.name]
        return trasp.Select(*kids, predicate)
    simple = {rasp.SelectorAnd: trasp.SelectorAnd, rasp.SelectorOr: trasp.SelectorOr,
              rasp.SelectorNot: trasp.SelectorNot, rasp.SelectorWidth: trasp.SelectorWidth}
    if type(node) in simple:
        return simple[type(node)](*kids)
    if isinstance(node, rasp.Aggregate):
        if node.reduction == "mean":
            return trasp.Aggregate(*kids, default=node.default)
        if not rewrite:
            raise Untranslatable(f"{node.label}: Aggregate with reduction={node.reduction!r} "
                                 f"(RASPy's .value); tracr's Aggregate only takes the mean")
        # The rewrite: a sum over at most one selected key is that key's value; tracr's
        # defaults are None (categorical) and 0 (numerical). check() says if it held.
        return trasp.Aggregate(*kids, default=0 if rasp.is_numerical(node) else None)
    raise Untranslatable(f"{node.label}: no tracr counterpart for {type(node).__name__}")


def to_tracr(program: rasp.SOp, rewrite: bool = False):
    """``program`` as a tracr RASP graph: same nodes, labels and encodings.

    ``rewrite`` changes what tracr cannot say: a Full becomes a constant Map of tokens (the
    same SOp), and RASPy's sum aggregate becomes tracr's mean with tracr's default (a
    different program wherever a query selects several keys or none).
    """
    made: dict = {}
    for node in rasp.nodes(program):
        new = _one(node, made, rewrite)
        if isinstance(node, rasp.SOp) and not isinstance(node, (rasp.TokensType,
                                                                rasp.IndicesType)):
            new = (trasp.numerical if rasp.is_numerical(node) else trasp.categorical)(new)
            new = new.named(node.label)
        elif isinstance(node, rasp.Selector):
            new = new.named(node.label)
        made[node.label] = new
    return made[program.label]


def tracr_lib_program(name: str, n: int):
    """tracr's own ``lib`` function for a tracr-lib entry (same arguments as library.py)."""
    t = trasp.tokens
    return {
        "tracr-length": lambda: tlib.make_length(),
        "tracr-reverse": lambda: tlib.make_reverse(t),
        "tracr-hist": lambda: tlib.make_hist(),
        "tracr-sort-unique": lambda: tlib.make_sort_unique(t, t),
        "tracr-sort": lambda: tlib.make_sort(t, t, max_seq_len=n, min_key=1),
        "tracr-sort-freq": lambda: tlib.make_sort_freq(n),
        "tracr-frac-prevs": lambda: tlib.make_frac_prevs(t == "a"),
        "tracr-pair-balance": lambda: tlib.make_pair_balance(t, "(", ")"),
        "tracr-shuffle-dyck": lambda: tlib.make_shuffle_dyck(["()"]),
        "tracr-shuffle-dyck2": lambda: tlib.make_shuffle_dyck2(),
        "tracr-shift-by": lambda: tlib.shift_by(1, t),
        "tracr-detect-pattern": lambda: tlib.detect_pattern(t, "abc"),
        "tracr-count-less-freq": lambda: tlib.make_count_less_freq(2),
        "tracr-count": lambda: tlib.make_count(t, "a"),
    }[name]()


def sizes(model) -> dict:
    """Layers, heads, widths and parameter counts of an assembled tracr model."""
    leaves = jax.tree_util.tree_leaves(model.params)
    config = model.model_config
    return {"layers": config.num_layers, "heads": config.num_heads,
            "d_model": int(model.params["token_embed"]["embeddings"].shape[1]),
            "key_size": config.key_size, "mlp_hidden": config.mlp_hidden_size,
            "params": int(sum(x.size for x in leaves)),
            "nonzero": int(sum(np.count_nonzero(np.asarray(x)) for x in leaves))}


def compile_tracr(program, vocab: tuple, n: int) -> dict:
    """Compile with tracr's defaults; the sizes, or the exception tracr raised."""
    start = time.perf_counter()
    try:
        model = compiling.compile_rasp_to_model(program, vocab=set(vocab), max_seq_len=n)
    except Exception as error:  # tracr refuses with NotImplementedError; else it crashes
        return {"status": "refused" if isinstance(error, NotImplementedError) else "failed",
                "error": f"{type(error).__name__}: {error}"[:400], "model": None}
    return {"status": "compiled", "compile_seconds": round(time.perf_counter() - start, 2),
            **sizes(model), "model": model}


def agrees(expected, got, numerical: bool) -> bool:
    """One position: categorical exactly, numerical to TOLERANCE (relative, at least 1)."""
    if expected is None:
        return True
    if numerical:
        return got is not None and abs(got - expected) <= TOLERANCE * max(1.0, abs(expected))
    return got == expected


def check(model, program, vocab: tuple, n: int, count: int) -> dict:
    """Run the tracr model on ``count`` seeded random inputs against ``rasp.evaluate``.

    Input k has length n - k * n // count (the first is the longest), so ``count >= n`` tries
    every length; an input the evaluator refuses (outside the program's domain, as in
    bench/rasp.py) is redrawn.
    """
    rng = random.Random(0)
    numerical = rasp.is_numerical(program)
    tried = wrong = 0
    wrong_lengths: set = set()
    first_wrong = None
    for k in range(count):
        for _ in range(100):
            xs = [rng.choice(vocab) for _ in range(n - k * n // count)]
            try:
                expected = rasp.evaluate(program, xs)
                break
            except ValueError:
                continue
        else:
            continue  # no input of this length in the domain
        tried += 1
        got = model.apply([BOS, *xs]).decoded[1:]
        if not all(agrees(e, g, numerical) for e, g in zip(expected, got)):
            wrong += 1
            wrong_lengths.add(len(xs))
            first_wrong = first_wrong or {"input": xs, "expected": expected, "tracr": got}
    return {"inputs": tried, "wrong": wrong, "wrong_lengths": sorted(wrong_lengths),
            "first_wrong": first_wrong}


def measure(name: str, vocab_size: int, n: int, checks: int) -> dict:
    """One row of the results: the translated program (and tracr's lib one) at one size."""
    entry = LIBRARY[name]
    program = BY_LENGTH[name](n) if name in BY_LENGTH else entry.make()
    vocab = vocabulary(entry.alphabet, vocab_size)
    row = {"program": name, "vocab_size": len(vocab), "vocab": list(vocab), "max_seq_len": n}
    try:
        result = compile_tracr(to_tracr(program), vocab, n)
    except Untranslatable as error:
        result = {"status": "untranslatable", "error": str(error), "model": None}
    model = result.pop("model")
    row.update(result)
    if model is not None and checks:
        row["check"] = check(model, program, vocab, n, checks)
    if row["status"] == "untranslatable":
        rewrite = compile_tracr(to_tracr(program, rewrite=True), vocab, n)
        model = rewrite.pop("model")
        if model is not None and checks:
            rewrite["check"] = check(model, program, vocab, n, checks)
        row["rewritten"] = rewrite
    if name.startswith("tracr-"):
        own = compile_tracr(tracr_lib_program(name, n), vocab, n)
        own.pop("model")
        row["tracr_lib"] = {k: own.get(k) for k in ("status", "error", "layers", "params")
                            if k in own}
    return row


def _combine(old: list, new: list) -> list:
    """``old`` rows with ``new`` ones replacing those of the same program and size, sorted."""
    done = {(r["program"], r["vocab_size"], r["max_seq_len"]) for r in new}
    rows = [r for r in old if (r["program"], r["vocab_size"], r["max_seq_len"]) not in done]
    return sorted(rows + new, key=lambda r: (r["max_seq_len"], r["vocab_size"], r["program"]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=int, default=0, help="random inputs to run")
    parser.add_argument("--sizes", default="5x10,10x40", help="vocab x max_seq_len list")
    parser.add_argument("--programs", default="", help="comma-separated names (default all)")
    parser.add_argument("--update", action="store_true",
                        help="replace only these rows in the existing results file")
    parser.add_argument("--merge", nargs="+", default=[], metavar="FILE",
                        help="measure nothing: combine these results files into --out")
    parser.add_argument("--out", default=str(RESULTS), help="results file")
    args = parser.parse_args(argv)
    names = [p for p in args.programs.split(",") if p] or sorted(LIBRARY)
    unknown = [p for p in names if p not in LIBRARY]
    if unknown:
        raise ValueError(f"unknown programs {unknown}; known: {', '.join(sorted(LIBRARY))}")
    out = Path(args.out)
    sources = [Path(f) for f in args.merge] or ([out] if args.update and out.exists() else [])
    old, commands = [], []
    for source in sources:
        data = json.loads(source.read_text())
        old, commands = _combine(old, data["rows"]), commands + data["commands"]
    rows = []
    for size in [] if args.merge else args.sizes.split(","):
        vocab_size, n = (int(x) for x in size.split("x"))
        for name in names:
            row = measure(name, vocab_size, n, args.check)
            print(json.dumps({k: v for k, v in row.items() if k != "vocab"}), flush=True)
            rows.append(row)
    rows = _combine(old, rows)
    version = importlib.metadata.version
    out.write_text(json.dumps({
        "what": "tracr's compiled sizes for the RASP library (bench/tracr_sizes.py)",
        "commands": commands + ([] if args.merge else [header()]),
        "versions": {p: version(p) for p in ("tracr-pypi", "jax", "jaxlib", "dm-haiku",
                                             "numpy")},
        "settings": {"compiler_bos": BOS, "mlp_exactness": 100, "causal": False,
                     "check_tolerance": TOLERANCE},
        "params_counted": "every array in the assembled model's params (token and position "
                          "embeddings, each layer's query/key/value/output weights and "
                          "biases, MLP weights and biases); tracr's unembedding is a fixed "
                          "projection outside params and is not counted",
        "rows": rows}, indent=1, default=repr) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
