"""Certificates: decode a program on its whole domain (or many inputs) and say how close to
failing it is.

Each input is checked in one teacher-forced pass (``forward_batch`` on prompt + expected
output): greedy decoding reproduces the reference exactly when the argmax at every output
position is the expected token, so this is the same verdict as decoding, far faster -- up
to rounding: the teacher-forced pass sums attention in another order than step-by-step
decoding, so where the verdict hangs on a margin within rounding (a failure, an exact tie,
or a margin under ``SURE`` of the logits' scale) the input is decoded for real
(``decode_batch``, the same cached step-by-step forward pass as ``Task.run``'s
``decode_cached``) and that decode is the verdict.
Besides the pass rate it reports the worst logit margin (expected token's logit minus the
best other one; negative means a wrong token) and the worst attention hardness (a head's
weight on its best-scoring keys; 1 is perfectly hard), so a user sees how close a program
is to failing, not only whether it passed.

An encoder task (``Task.causal`` false: compiled RASP programs) is checked by one batched
non-causal pass over the prompts; its unsure inputs are re-run through ``Task.outputs`` (the
plain forward pass that ``Task.run`` uses), so the verdicts are ``Task.run``'s.
"""
from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Sequence, Sized
from dataclasses import dataclass, field

import numpy as np

from taotp.decoding import decode_batch, forward_batch
from taotp.params import astype, shape_of
from taotp.program import Task
from taotp.shards import Shard, as_shard

# Elements of the largest intermediate array one chunk may hold (~32 MB: cache-friendly).
_CHUNK_ELEMENTS = 2 ** 22
# A teacher-forced margin wider than this fraction of the largest logit decides the verdict
# alone; narrower ones (and every failure) are confirmed by decoding.
SURE = {"float64": 1e-6, "float32": 1e-2}
# h15b: where the teacher-forced pass runs: numpy's forward_batch, or the same pass in torch.
BACKENDS = ("dense", "torch")


@dataclass(frozen=True)
class Report:
    """What a verification found: how many inputs passed, the worst margins, failures."""
    mode: str
    dtype: str
    n_inputs: int
    n_passed: int
    worst_margin: float
    worst_hardness: float
    seconds: float
    failures: tuple = field(default=())  # (prompt, expected, got) of the first few failures
    # h15b: which part of the inputs (taotp.shards), the sample seed (None: exhaustive) and
    # which forward pass ran ("dense": numpy; "torch-cpu"/"torch-cuda").
    shard: Shard = Shard()
    seed: int | None = None
    path: str = "dense"

    @property
    def ok(self) -> bool:
        """Every input checked gave the reference answer."""
        return self.n_passed == self.n_inputs

    def summary(self) -> str:
        """One line for the terminal."""
        rate = 100.0 * self.n_passed / max(self.n_inputs, 1)
        hardness = "n/a (no attention)" if np.isinf(self.worst_hardness) \
            else f"{self.worst_hardness:.6g}"
        where = "" if self.shard.whole else f" (shard {self.shard})"
        path = "" if self.path == "dense" else f" via {self.path}"
        return (f"{self.mode}{where}: {self.n_passed:,}/{self.n_inputs:,} correct ({rate:.4g}%) "
                f"in {self.dtype}{path}; worst logit margin {self.worst_margin:.4g}; worst "
                f"attention hardness {hardness}; {self.seconds:.1f} s")


def verify(task: Task, *, dtype="float64", exhaustive=False, samples=1000, seed=0,
           progress=True, max_failures=5, shard: Shard | str | None = None,
           backend: str = "dense") -> Report:
    """Check ``task`` against its reference on every input (``exhaustive``) or on
    ``samples`` seeded random inputs plus its adversarial ones.

    ``shard="K/N"`` checks only the K-th of N disjoint parts of those inputs
    (``taotp.shards``); ``backend="torch"`` runs the teacher-forced pass in torch
    (``taotp.export.torch_forward``), with the same verdict logic.
    """
    shard = as_shard(shard)  # h15b
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if exhaustive:
        if task.exhaustive is None:
            raise ValueError("this program has no exhaustive domain; use samples instead")
        prompts, mode = task.exhaustive(), "exhaustive"
        total = len(prompts) if isinstance(prompts, Sized) else None  # h15b: for the bar
    else:
        if samples < 0:
            raise ValueError(f"samples must be >= 0, got {samples}")
        rng = np.random.default_rng(seed)
        extra = list(task.adversarial()) if task.adversarial else []
        prompts = itertools.chain(task.sample(rng, samples), extra)
        mode = f"{samples:,} random + {len(extra):,} adversarial"
        total = samples + len(extra)
    if isinstance(prompts, Sequence):  # h15b: indexable: build only this shard's prompts
        prompts = map(prompts.__getitem__, shard.indices(total))
    else:
        prompts = shard.take(prompts)
    total = shard.count(total)
    params = astype(task.params, dtype)
    forward = _forward_of(backend, params)  # h15b
    start = time.perf_counter()
    counts = _Tally(max_failures, task.eos, SURE[str(np.dtype(dtype))], task.causal)
    groups = defaultdict(list)
    bar = _bar(progress, total)
    sizes = {}  # chunk size per sequence length
    for prompt in prompts:
        prompt = np.asarray(prompt, dtype=np.int64)
        expected = np.asarray(task.reference(prompt), dtype=np.int64)
        _check_length(task, prompt, expected)
        key = (len(prompt), len(expected))
        groups[key].append(np.concatenate((prompt, expected)))
        if key not in sizes:
            sizes[key] = _chunk_size(params, sum(key))
        if len(groups[key]) >= sizes[key]:
            _check(params, groups.pop(key), key[0], counts, task.causal, forward)
            bar.update(sizes[key])
    for key, rows in groups.items():
        _check(params, rows, key[0], counts, task.causal, forward)
        bar.update(len(rows))
    bar.close()
    return Report(mode=mode, dtype=str(np.dtype(dtype)), n_inputs=counts.n,
                  n_passed=counts.passed, worst_margin=counts.margin,
                  worst_hardness=counts.hardness, seconds=time.perf_counter() - start,
                  failures=tuple(counts.failures), shard=shard,
                  seed=None if exhaustive else seed, path=getattr(forward, "name", backend))


class _Tally:
    def __init__(self, max_failures, eos, sure, causal=True):
        self.n = self.passed = 0
        self.causal = causal
        self.margin = self.hardness = float("inf")
        self.failures, self.max_failures = [], max_failures
        self.eos, self.sure = eos, sure

    def add(self, rows, n_prompt, logits, hardness, params):
        expected = rows[:, n_prompt:]
        got = list(np.argmax(logits, axis=-1))
        right = np.take_along_axis(logits, expected[..., None], axis=-1)[..., 0]
        others = np.where(np.eye(logits.shape[-1], dtype=bool)[expected], -np.inf, logits)
        margins = (right - others.max(axis=-1)).min(axis=1)
        scale = np.maximum(np.abs(logits).max(axis=(1, 2)), 1.0)
        ok = np.all(np.stack(got) == expected, axis=1)
        unsure = np.flatnonzero(~ok | (margins <= self.sure * scale))
        if unsure.size and not self.causal:  # the verdict is the plain forward pass's
            for i in unsure:
                got[i] = _encoder_outputs(rows[i, :n_prompt], params)
                ok[i] = np.array_equal(got[i], expected[i])
        elif unsure.size:  # the verdict is the real greedy decode's
            decoded = decode_batch(rows[unsure, :n_prompt], params,
                                   max_steps=expected.shape[1], eos=self.eos)
            for i, row in zip(unsure, decoded):
                got[i] = row[n_prompt:]
                ok[i] = np.array_equal(got[i], expected[i])
        self.n += len(rows)
        self.passed += int(ok.sum())
        self.margin = min(self.margin, float(margins.min()))
        if hardness.size:
            self.hardness = min(self.hardness, float(hardness.min()))
        for i in np.flatnonzero(~ok)[: self.max_failures - len(self.failures)]:
            self.failures.append((rows[i, :n_prompt].tolist(), expected[i].tolist(),
                                  np.asarray(got[i]).tolist()))


def _encoder_outputs(prompt, params):
    from taotp.model import transformer

    return np.argmax(transformer(prompt, **params, causal=False)[1:], axis=-1)


def _check_length(task, prompt, expected):
    """The reference must fill the decode exactly, or end in eos within the step budget
    (an encoder's: one id per prompt token after BOS)."""
    if not task.causal:
        if len(expected) != len(prompt) - 1:
            raise ValueError(f"reference gives {len(expected)} tokens where the encoder "
                             f"outputs {len(prompt) - 1} for prompt {prompt.tolist()}")
        return
    steps = task.steps(prompt)
    ends = task.eos is not None and len(expected) and expected[-1] == task.eos
    if len(expected) != steps and not (ends and len(expected) <= steps):
        raise ValueError(f"reference gives {len(expected)} tokens where the program "
                         f"decodes {steps} for prompt {prompt.tolist()}")


def _check(params, rows, n_prompt, tally, causal, forward):
    rows = np.stack(rows)
    if causal:
        logits, hardness = forward(rows[:, :-1], logits_from=n_prompt - 1, hardness=True)
    else:  # one encoder pass over the prompt; outputs at positions 1..
        logits, hardness = forward(rows[:, :n_prompt], logits_from=1, hardness=True,
                                   causal=False)
    tally.add(rows, n_prompt, logits, hardness, params)


def _chunk_size(params, length):
    shape = shape_of(params)
    widest = max(shape.d_ff, shape.vocab_size, shape.n_heads * length, shape.d_model, 1)
    return max(1, _CHUNK_ELEMENTS // (length * widest))


def _forward_of(backend, params):
    """h15b: the teacher-forced pass of ``backend``, called as ``forward(tokens, **kw)``."""
    if backend == "torch":
        from taotp.export.torch_forward import TorchForward

        return TorchForward(params)
    return lambda tokens, **kw: forward_batch(tokens, params, **kw)


def _bar(progress, total=None):
    """A progress bar; with ``total`` known it shows the time left as well as inputs/s."""
    from tqdm import tqdm

    return tqdm(desc="verifying", unit=" inputs", total=total, disable=not progress,
                leave=False)
