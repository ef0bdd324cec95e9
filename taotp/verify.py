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

Backends (``backend=``): ``"dense"`` is that teacher-forced pass (``forward_batch``);
``"fast"`` is ``taotp.fastpath.FastPath``, the same logits computed at the cost of the
program's structure (layer 0 from tables, provably hard heads as gathers, MLPs memoised);
``"auto"`` (the default) takes the fast path unless it finds no structure to use. Either way
unsure inputs are decoded for real, and the Report's ``path`` says which path ran.
Tokens whose ``out_emb`` row is bit-for-bit the expected token's get bit-for-bit its logit;
argmax breaks such a tie to the lowest id, so those after the expected one do not count
against its margin (DECIMAL ADDITION embeds '+' and '=' as the digit 0).

An exhaustive domain that is a ``taotp.domains.Indexed`` with a vectorised ``batch`` (the
addition programs: 10^8 four-digit pairs) is built and checked many prompts at a time.
``shard="K/N"`` checks only the K-th of N disjoint parts of the inputs (``taotp.shards``);
``backend="torch"`` runs the teacher-forced pass in torch (``taotp.export.torch_forward``).

An encoder task (``Task.encoder``: compiled RASP programs, causally masked or not) is
checked by one batched pass over the prompts, with the task's mask; its unsure inputs are
re-run through ``encoder_outputs`` (the plain forward pass that ``Task.run`` uses), so the
verdicts are ``Task.run``'s.
"""
from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Sequence, Sized
from dataclasses import dataclass, field

import numpy as np

from taotp.decoding import decode_batch, forward_batch
from taotp.domains import Indexed
from taotp.params import astype, shape_of
from taotp.program import Task, encoder_outputs
from taotp.shards import Shard, as_shard

# Elements of the largest intermediate array one chunk may hold (~32 MB: cache-friendly).
_CHUNK_ELEMENTS = 2 ** 22
# A teacher-forced margin wider than this fraction of the largest logit decides the verdict
# alone; narrower ones (and every failure) are confirmed by decoding.
SURE = {"float64": 1e-6, "float32": 1e-2}


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
    # Which part of the inputs (taotp.shards), the sample seed (None: exhaustive) and which
    # forward pass gave the verdicts (``backend``: "dense", "fast (...)", "torch-cpu", ...).
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
        return (f"{self.mode}{where}: {self.n_passed:,}/{self.n_inputs:,} correct ({rate:.4g}%) "
                f"in {self.dtype}; worst logit margin {self.worst_margin:.4g}; worst "
                f"attention hardness {hardness}; {self.seconds:.1f} s; path {self.path}")


BACKENDS = ("auto", "dense", "fast", "torch")


def verify(task: Task, *, dtype="float64", exhaustive=False, samples=1000, seed=0,
           progress=True, max_failures=5, shard: Shard | str | None = None,
           backend="auto") -> Report:
    """Check ``task`` against its reference on every input (``exhaustive``) or on
    ``samples`` seeded random inputs plus its adversarial ones.

    ``shard="K/N"`` checks only the K-th of N disjoint parts of those inputs. ``backend``:
    ``"auto"``, ``"dense"``, ``"fast"`` or ``"torch"`` (module docstring), or a ``FastPath``
    built on ``task.params`` in this dtype (its memos then carry over from call to call).
    """
    shard = as_shard(shard)
    params = astype(task.params, dtype)
    forward, path = _pick_path(params, backend)
    if exhaustive:
        if task.exhaustive is None:
            raise ValueError("this program has no exhaustive domain; use samples instead")
        prompts, mode = task.exhaustive(), "exhaustive"
        if isinstance(prompts, Indexed) and prompts.batch is not None:
            return _verify_batched(task, prompts, params, forward, path, shard, progress,
                                   max_failures)
        total = len(prompts) if isinstance(prompts, Sized) else None
    else:
        if samples < 0:
            raise ValueError(f"samples must be >= 0, got {samples}")
        rng = np.random.default_rng(seed)
        extra = list(task.adversarial()) if task.adversarial else []
        prompts = itertools.chain(task.sample(rng, samples), extra)
        mode = f"{samples:,} random + {len(extra):,} adversarial"
        total = samples + len(extra)
    if isinstance(prompts, Sequence):  # indexable: build only this shard's prompts
        prompts = map(prompts.__getitem__, shard.indices(total))
    else:
        prompts = shard.take(prompts)
    start = time.perf_counter()
    counts = _Tally(max_failures, task, SURE[str(np.dtype(dtype))], params)
    groups = defaultdict(list)
    bar = _bar(progress, shard.count(total))
    sizes = {}  # chunk size per sequence length
    for prompt in prompts:
        prompt = np.asarray(prompt, dtype=np.int64)
        expected = np.asarray(task.reference(prompt), dtype=np.int64)
        _check_length(task, prompt, expected)
        key = (len(prompt), len(expected))
        groups[key].append(np.concatenate((prompt, expected)))
        if key not in sizes:
            sizes[key] = _chunk_size(params, sum(key), path.startswith("fast"))
        if len(groups[key]) >= sizes[key]:
            _check(forward, params, groups.pop(key), key[0], counts)
            bar.update(sizes[key])
    for key, rows in groups.items():
        _check(forward, params, rows, key[0], counts)
        bar.update(len(rows))
    bar.close()
    return _report(counts, mode, dtype, start, path, shard, None if exhaustive else seed)


def _verify_batched(task, domain, params, forward, path, shard, progress, max_failures):
    """The exhaustive check over ``domain.batch``: this shard's indices, many at a time."""
    indices = shard.indices(len(domain))
    dtype = str(params["tok_emb"].dtype)
    start = time.perf_counter()
    counts = _Tally(max_failures, task, SURE[dtype], params)
    bar, step, at = _bar(progress, len(indices)), None, 0
    while at < len(indices):
        if step is None:  # the first input tells the lengths, hence the chunk size
            prompts, expected = domain.batch(np.array([indices[0]], dtype=np.int64))
            _check_length(task, prompts[0], expected[0])
            step = _chunk_size(params, prompts.shape[1] + expected.shape[1],
                               path.startswith("fast"))
        part = indices[at:at + step]
        prompts, expected = domain.batch(np.arange(part.start, part.stop, part.step,
                                                   dtype=np.int64))
        at += len(part)
        rows = np.concatenate((prompts, expected), axis=1).astype(np.int64)
        _check(forward, params, rows, prompts.shape[1], counts)
        bar.update(len(rows))
    bar.close()
    return _report(counts, "exhaustive", dtype, start, path, shard, None)


def _pick_path(params, backend):
    """The forward pass ``backend`` asks for, called as ``forward(tokens, **kw)``, and its
    description for the Report."""
    from taotp.fastpath import FastPath

    if isinstance(backend, FastPath):
        if backend.dtype != params["tok_emb"].dtype:
            raise ValueError(f"this FastPath runs in {backend.dtype}, not "
                             f"{params['tok_emb'].dtype}")
        fast = backend
    elif not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)} or a FastPath, "
                         f"not {backend!r}")
    elif backend == "torch":
        from taotp.export.torch_forward import TorchForward

        torch_forward = TorchForward(params)
        return torch_forward, torch_forward.name
    elif backend == "dense":
        return (lambda tokens, **kw: forward_batch(tokens, params, **kw)), "dense"
    else:
        fast = FastPath(params)
        if backend == "auto" and not fast.useful:
            return (lambda tokens, **kw: forward_batch(tokens, params, **kw)), \
                "dense (the fast path found no structure to use)"
    return fast.forward_batch, f"fast ({fast.describe()})"


def _report(counts, mode, dtype, start, path, shard, seed):
    return Report(mode=mode, dtype=str(np.dtype(dtype)), n_inputs=counts.n,
                  n_passed=counts.passed, worst_margin=counts.margin,
                  worst_hardness=counts.hardness, seconds=time.perf_counter() - start,
                  failures=tuple(counts.failures), shard=shard, seed=seed, path=path)


class _Tally:
    def __init__(self, max_failures, task, sure, params):
        self.n = self.passed = 0
        self.twin = np.unique(params["out_emb"], axis=0, return_inverse=True)[1].reshape(-1)
        self.encoder, self.causal = task.encoder, task.causal
        self.margin = self.hardness = float("inf")
        self.failures, self.max_failures = [], max_failures
        self.eos, self.sure = task.eos, sure

    def add(self, rows, n_prompt, logits, hardness, params):
        expected = rows[:, n_prompt:]
        got = list(np.argmax(logits, axis=-1))
        right = np.take_along_axis(logits, expected[..., None], axis=-1)[..., 0]
        # Tokens that cannot beat the expected one: itself, and its later bit-for-bit twins.
        ids = np.arange(logits.shape[-1])
        ignore = (self.twin == self.twin[expected][..., None]) & (ids >= expected[..., None])
        others = np.where(ignore, -np.inf, logits)
        margins = (right - others.max(axis=-1)).min(axis=1)
        scale = np.maximum(np.abs(logits).max(axis=(1, 2)), 1.0)
        ok = np.all(np.stack(got) == expected, axis=1)
        unsure = np.flatnonzero(~ok | (margins <= self.sure * scale))
        if unsure.size and self.encoder:  # the verdict is the plain forward pass's
            for i in unsure:
                got[i] = encoder_outputs(params, rows[i, :n_prompt], self.causal)
                ok[i] = np.array_equal(got[i], expected[i])
        elif unsure.size:  # the verdict is the real greedy decode's
            decoded = decode_batch(rows[unsure, :n_prompt], params,
                                   max_steps=expected.shape[1], eos=self.eos,
                                   batch_size=_chunk_size(params, rows.shape[1]))
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


def _check_length(task, prompt, expected):
    """The reference must fill the decode exactly, or end in eos within the step budget
    (an encoder's: one id per prompt token after BOS)."""
    if task.encoder:
        if len(expected) != len(prompt) - 1:
            raise ValueError(f"reference gives {len(expected)} tokens where the encoder "
                             f"outputs {len(prompt) - 1} for prompt {prompt.tolist()}")
        return
    steps = task.steps(prompt)
    ends = task.eos is not None and len(expected) and expected[-1] == task.eos
    if len(expected) != steps and not (ends and len(expected) <= steps):
        raise ValueError(f"reference gives {len(expected)} tokens where the program "
                         f"decodes {steps} for prompt {prompt.tolist()}")


def _check(forward, params, rows, n_prompt, tally):
    rows = np.stack(rows)
    if tally.encoder:  # one pass over the prompt, with the task's mask; outputs at 1..
        logits, hardness = forward(rows[:, :n_prompt], logits_from=1, hardness=True,
                                   causal=tally.causal)
    else:
        logits, hardness = forward(rows[:, :-1], logits_from=n_prompt - 1, hardness=True)
    tally.add(rows, n_prompt, logits, hardness, params)


def _chunk_size(params, length, fast=False):
    """Inputs per chunk: the dense pass holds ``d_ff`` hidden units per row, the fast path
    (MLPs memoised) at most the attention scores or logits."""
    shape = shape_of(params)
    widest = max(0 if fast else shape.d_ff, shape.vocab_size, shape.n_heads * length,
                 shape.d_model, 1)
    return max(1, _CHUNK_ELEMENTS // (length * widest))


def _bar(progress, total=None):
    """A progress bar; with ``total`` known it shows the time left as well as inputs/s."""
    from tqdm import tqdm

    return tqdm(desc="verifying", unit=" inputs", total=total, disable=not progress,
                leave=False)
