"""unpadded-addition (Exercise 6.20): exact in float64 and float32, exhaustive to 2 digits,
random and carry-chain inputs to 6; <eos> handling through the real decoders; counts pinned.

Teacher forcing: the logits at positions ``len(prompt) - 1`` onwards of ``prompt +
expected[:-1]`` are what greedy decoding sees, so one pass checks a whole decode (including
the final <eos>). Prompts of equal length and equal answer length share a batch.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from constructions.unpadded_addition import (
    BOS, EOS, EQUALS, PLUS, PROGRAMS, build_unpadded_addition_transformer, nasty_pairs,
)
from taotp.decoding import decode, decode_batch, forward_batch
from taotp.params import astype, count_params

DTYPES = (np.float64, np.float32)


def _wrong(task, params, prompts, batch=1024):
    groups = defaultdict(list)
    for p in prompts:
        groups[(len(p), len(task.reference(p)))].append(p)
    wrong = []
    for (length, _), group in groups.items():
        for i in range(0, len(group), batch):
            chunk = group[i:i + batch]
            tokens = np.array([np.concatenate((p, task.reference(p)[:-1])) for p in chunk])
            logits = forward_batch(tokens, params, logits_from=length - 1)
            assert logits.dtype == params["tok_emb"].dtype
            for p, got in zip(chunk, logits.argmax(-1)):
                if not np.array_equal(got, task.reference(p)):
                    wrong.append(p)
    return wrong


@pytest.fixture(scope="module")
def tasks():
    return {D: PROGRAMS[0].make(max_digits=D) for D in (1, 2, 3, 4, 6)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 2])
def test_exhaustive(tasks, D, dtype):
    task = tasks[D]
    prompts = list(task.exhaustive())
    assert len(prompts) == 100 ** D
    assert _wrong(task, astype(task.params, dtype), prompts) == []


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D, count", [(3, 1500), (4, 400), (6, 80)])
def test_random_and_adversarial(tasks, D, count, dtype):
    task = tasks[D]
    prompts = task.adversarial() + task.sample(np.random.default_rng(D), count)
    assert _wrong(task, astype(task.params, dtype), prompts) == []


@pytest.mark.parametrize("dtype", DTYPES)
def test_decoders_stop_at_eos(tasks, dtype):
    task = tasks[3]
    params = astype(task.params, dtype)
    cases = {"4+8": "12", "84+88": "172", "999+1": "1000", "0+0": "0", "0+7": "7",
             "500+500": "1000", "99+1": "100", "1+999": "1000"}
    prompts = [task.encode(text) for text in cases]
    outs = decode_batch(prompts, params, max_steps=5, eos=EOS)
    for text, prompt, out in zip(cases, prompts, outs):
        assert out[-1] == EOS
        assert task.render(out[len(prompt):]) == cases[text]
        assert list(decode(prompt, params, max_steps=5, eos=EOS)) == list(out)
    assert [task.run(text) for text in cases] == list(cases.values())


def test_prompt_format_and_reference(tasks):
    task = tasks[3]
    assert list(task.encode("84+88")) == [BOS, 8, 4, PLUS, 8, 8, EQUALS]
    assert list(task.encode(" 4 + 8 = ")) == [BOS, 4, PLUS, 8, EQUALS]
    assert list(task.reference(task.encode("999+1"))) == [1, 0, 0, 0, EOS]
    assert task.steps(task.encode("5+123")) == 4
    assert task.steps(task.encode("999+1")) == 5
    assert task.answer("84+88") == "172"
    assert task.eos == EOS


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("1234+1", "4 digits"), ("012+1", "leading zero"), ("1+00", "leading zero"),
    ("1+2+3", "exactly two"), ("1-2", "'-'"), ("+5", "exactly two"), ("1=2", "'='")])
def test_encode_errors(tasks, text, message):
    with pytest.raises(ValueError, match=message):
        tasks[3].encode(text)


def test_reference_checks_prompts(tasks):
    with pytest.raises(ValueError, match="prompt"):
        tasks[3].reference(np.array([1, PLUS, 2, EQUALS]))


@pytest.mark.parametrize("bad", [0, 13, 2.5, True, "3"])
def test_bad_size(bad):
    with pytest.raises(ValueError if isinstance(bad, int) and not isinstance(bad, bool)
                       else TypeError, match="max_digits"):
        build_unpadded_addition_transformer(bad)


@pytest.mark.parametrize("D, d_model, n_params", [
    (1, 34, 9_370), (2, 44, 19_340), (3, 54, 34_532), (4, 64, 56_542), (6, 84, 129_000)])
def test_parameter_counts(D, d_model, n_params):
    params = build_unpadded_addition_transformer(D)
    assert params["tok_emb"].shape == (14, d_model)
    assert params["pos_emb"].shape[0] == 3 * D + 4
    assert len(params["layers"]) == 4
    assert count_params(params)["n_params"] == n_params


def test_adversarial_inputs_are_valid():
    for D in (1, 3):
        for a, b in nasty_pairs(D):
            assert 1 <= len(a) <= D and 1 <= len(b) <= D
            assert a == "0" or a[0] != "0"
            assert b == "0" or b[0] != "0"
