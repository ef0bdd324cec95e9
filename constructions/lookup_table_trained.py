"""LOOKUP TABLE learned end to end (Exercise 3.1): every weight of a standard 1-layer,
attention-only transformer is trained, none is set by hand, and the result is certified on
*every* prompt it can see.

The problem is chapter 3's: a table of keys (``key_len`` tokens) and values; the input is any
prefix followed by a key, the output the key's value. With a vocabulary of ``vocab_size``
tokens and inputs of at most ``block_size`` tokens the domain is finite: every key after
every prefix of ``0..block_size - key_len`` tokens, ``entries * sum_m vocab_size**m``
prompts. So "no adversarial prefix breaks it" is a checkable statement, not a hope.

The model is the book's architecture with nothing fixed: tied token embeddings, learned
position embeddings, ``n_heads`` heads of ``d_head`` (Q, K, V, P), no MLP, layer norms
without gains (as everywhere in taotp). Gradients are written by hand in numpy
(``forward_backward``; the tests check them against finite differences) and Adam fits them.

The dataset and the adversarial rounds (the answer to "how would you make sure"):

1. Start: every key alone, every key after every other key (a prefix that *ends with a key*
   fools a model that merely found "a key"), after each key's own value repeated, and after
   ``random_prefixes`` random prefixes of every length.
2. Train; then decode the *whole* domain (batched, ``forward_batch``) and add every prompt
   that came out wrong, or whose margin (right logit minus the best other) is under
   ``margin``, to the training set; repeat until a round finds none. The learning rate
   decays by 0.8 a round: at a constant rate a table of 8 keys over 5 tokens stalled at 11
   wrong prompts for 20 rounds; with the decay it certifies in 3.
3. Certify with ``taotp.verify`` on the exhaustive domain (``Task.exhaustive`` yields every
   prompt): a build that does not pass raises (``Unproven``), so a returned task is right on
   every input it accepts.

Steps 1 and 2 (hand gradients, Adam, the rounds) live in ``constructions.lookup_table_training``
and are importable from here; this module builds, certifies and registers the task.

Sizes (defaults: 6 entries, vocab 4, keys of 2, block 5, d_model 16, 2 heads of 8):
tok_emb 64 + pos_emb 80 + Q K V P 4 x 256 + the unused MLP bias 16 = 1,184 parameters; the domain has 6 x 85 = 510
prompts, and the build (two rounds) takes seconds. What certifies and what does not is
measured in the tests and the notebook
(``notebooks/03_lookup_table.ipynb``, Exercise 1).

>>> task = make(entries=4, vocab_size=4, block_size=4, seed=0)
>>> task.options["rounds"] >= 1
True
"""
from __future__ import annotations

import numpy as np

from constructions.lookup_table import _table_task, random_lookup_table
from constructions.lookup_table_training import (  # noqa: F401  (re-exported)
    domain, forward_backward, margins, to_params, train_lookup_table,
)
from taotp.checks import Unproven
from taotp.domains import Counted
from taotp.program import Option, Program, Task

_EXHAUSTIVE_LIMIT = 200_000  # the largest domain a build decodes (each round and to certify)


def _table(entries, vocab_size, key_len, seed):
    table_seed, weight_seed = np.random.SeedSequence(seed).spawn(2)
    ks, vs = random_lookup_table(np.random.default_rng(table_seed), entries, vocab_size,
                                 key_len)
    return ks, vs, weight_seed


def make(entries=6, vocab_size=4, key_len=2, block_size=5, d_model=16, n_heads=2,
         steps=150, max_rounds=20, seed=0) -> Task:
    """A seeded random table, learned and certified on every prompt of its domain."""
    size = entries * sum(vocab_size ** m for m in range(block_size - key_len + 1))
    if size > _EXHAUSTIVE_LIMIT:
        raise ValueError(f"the domain has {size:,} prompts, more than the {_EXHAUSTIVE_LIMIT:,} "
                         "a build decodes to certify itself: use a smaller vocab_size or "
                         "block_size")
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} must be a multiple of n_heads={n_heads}")
    if block_size < key_len:
        raise ValueError(f"block_size={block_size} must be >= key_len={key_len}")
    ks, vs, weight_seed = _table(entries, vocab_size, key_len, seed)
    params, history = train_lookup_table(ks, vs, vocab_size, block_size, d_model, n_heads,
                                         steps, max_rounds, seed=weight_seed)
    task = _table_task(params, ks, vs, block_size, dict(
        entries=entries, vocab_size=vocab_size, key_len=key_len, block_size=block_size,
        d_model=d_model, n_heads=n_heads, steps=steps, max_rounds=max_rounds, seed=seed,
        rounds=len(history), history=history))
    return certify_domain(task, ks, vocab_size, block_size)


def certify_domain(task: Task, ks: np.ndarray, vocab_size: int, block_size: int) -> Task:
    """The task whose ``exhaustive`` is every prompt, if ``taotp.verify`` passes all of them
    in float64 and float32; else ``Unproven`` says how many failed."""
    from dataclasses import replace

    from taotp.verify import verify

    groups = domain(ks, vocab_size, block_size).values()
    size = sum(len(prompts) for prompts, _ in groups)

    def every_prompt():
        for prompts, _ in groups:
            yield from prompts

    task = replace(task, exhaustive=lambda: Counted(size, every_prompt))
    for dtype in ("float64", "float32"):
        report = verify(task, dtype=dtype, exhaustive=True, progress=False, max_failures=1)
        if not report.ok:
            break
    if not report.ok:
        wrong = report.n_inputs - report.n_passed
        raise Unproven(f"the trained lookup table is wrong on {wrong:,} of {report.n_inputs:,} "
                       f"prompts in {report.dtype} after {task.options['rounds']} rounds: raise "
                       "--max-rounds, --steps or --d-model, or try another --seed", task)
    return task


_CERTIFIED = "no precision limit: each build decodes every prompt of its domain or raises"

PROGRAMS = (
    Program(
        name="lookup-table-trained", title="LOOKUP TABLE (trained end to end)",
        section="Exercise 3.1",
        summary="Every weight of a 1-layer attention-only transformer learned (Adam, hand "
                "gradients) on keys after designed and adversarial prefixes, then certified "
                "on every prompt of the finite domain.",
        input_format="space-separated token ids ending with a key of the (seeded, random) "
                     "table, after any prefix, e.g. the examples",
        build=make,
        options=(
            Option("entries", int, 6, "number of random key-value pairs", low=1, cap=1000,
                   beyond=_CERTIFIED),
            Option("vocab_size", int, 4, "vocabulary size", low=2, cap=1000, beyond=_CERTIFIED),
            Option("key_len", int, 2, "tokens per key", low=1, cap=16, beyond=_CERTIFIED),
            Option("block_size", int, 5, "longest input: key plus prefix", low=1, cap=64,
                   beyond=_CERTIFIED),
            Option("d_model", int, 16, "model width", low=2, cap=512, beyond=_CERTIFIED),
            Option("n_heads", int, 2, "attention heads (d_head = d_model / n_heads)", low=1,
                   cap=64, beyond=_CERTIFIED),
            Option("steps", int, 150, "Adam steps per round", low=1, cap=100_000,
                   beyond=_CERTIFIED),
            Option("max_rounds", int, 20, "adversarial rounds at most", low=1, cap=1000,
                   beyond=_CERTIFIED),
            Option("seed", int, 0, "seed of the table and the initial weights", low=0),
        ),
        examples=tuple(" ".join(map(str, k)) for k in _table(6, 4, 2, 0)[0][:3]),
    ),
)
