"""``verify(backend="torch")``: the same teacher-forced check in torch gives numpy's verdicts."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from constructions import PROGRAMS, get_program
from taotp import astype, forward_batch
from taotp.verify import SURE, verify

torch = pytest.importorskip("torch", reason="the torch backend needs the export extra")
from taotp.export.torch_forward import TorchForward  # noqa: E402

# Small domains, checked exhaustively (an encoder among them: compiled RASP).
EXHAUSTIVE = [("min", dict(vocab_size=5, block_size=4)), ("addition", dict(n_digits=1)),
              ("single-digit-mod", {}), ("multiplication", dict(n_digits=1)),
              ("long-addition", dict(n_digits=1)), ("unpadded-addition", dict(max_digits=1)),
              ("rasp-reverse", dict(vocab_size=3, max_seq_len=4)),
              ("rasp-frac-prevs", dict(vocab_size=3, max_seq_len=4)), ("hello-world", {})]


def _broken(task):
    """``task`` with its token embedding reversed: it fails on some inputs, not all."""
    return replace(task, params={**task.params, "tok_emb": task.params["tok_emb"][::-1].copy()})


def _same_verdicts(a, b):
    assert (a.n_inputs, a.n_passed, a.failures) == (b.n_inputs, b.n_passed, b.failures)
    assert (a.mode, a.dtype) == (b.mode, b.dtype) and b.path == "torch-cpu" != a.path
    # Margins agree within what the verdict already leaves to rounding (``SURE``): hardened
    # attention (scores ~1e8) amplifies one ulp of a different summation order to ~1e-8
    # (rasp-cumsum, lookup-table-general), and SORT's two best logits tie in torch.
    sure = SURE[a.dtype]
    assert b.worst_margin == pytest.approx(a.worst_margin, rel=sure, abs=sure)
    assert b.worst_hardness == pytest.approx(a.worst_hardness, rel=sure)


@pytest.mark.parametrize("name, options", EXHAUSTIVE, ids=[n for n, _ in EXHAUSTIVE])
def test_torch_gives_numpys_verdicts_on_whole_domains(name, options):
    task = get_program(name).make(**options)
    for t in (task, _broken(task)):
        dense = verify(t, exhaustive=True, progress=False, max_failures=10 ** 6)
        _same_verdicts(dense, verify(t, exhaustive=True, progress=False,
                                     max_failures=10 ** 6, backend="torch"))
    assert not verify(_broken(task), exhaustive=True, progress=False).ok or name == "hello-world"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_torch_gives_numpys_verdicts_on_every_program(default_task, name):
    task = default_task(name)
    dense = verify(task, samples=10, seed=1, progress=False)
    _same_verdicts(dense, verify(task, samples=10, seed=1, progress=False, backend="torch"))


def test_float32_stays_float32():
    task = get_program("min").make(vocab_size=5, block_size=4)
    params = astype(task.params, "float32")
    tokens = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    logits, hardness = TorchForward(params)(tokens, logits_from=1, hardness=True)
    assert logits.dtype == hardness.dtype == np.float32 and logits.shape == (2, 3, 5)
    expected = forward_batch(tokens, params, logits_from=1)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    dense = verify(task, exhaustive=True, dtype="float32", progress=False)
    _same_verdicts(dense, verify(task, exhaustive=True, dtype="float32", progress=False,
                                 backend="torch"))


def test_logits_match_numpy_on_random_models(rng):
    from conftest import random_params

    params = random_params(rng)
    tokens = rng.integers(0, 7, (4, 9))
    run = TorchForward(params)
    for causal in (True, False):
        for start in (0, 3, 8, -2):
            a = forward_batch(tokens, params, logits_from=start, hardness=True, causal=causal)
            b = run(tokens, logits_from=start, hardness=True, causal=causal)
            np.testing.assert_allclose(b[0], a[0], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(b[1], a[1], rtol=1e-9, atol=1e-12)
