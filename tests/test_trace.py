"""record() keeps the forward pass's intermediate results; trace() draws them legibly."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from constructions import PROGRAMS
from taotp import astype, layer_norm, transformer
from taotp.plotting import save
from taotp.trace import decode_steps, record, trace
from tests.conftest import random_params
from tests.pngcheck import check_png


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("causal", [True, False])
def test_recorded_logits_equal_transformer(seed, causal):
    rng = np.random.default_rng(seed)
    params = random_params(rng, n_layers=1 + seed % 3, n_heads=1 + seed % 2)
    tokens = rng.integers(0, 7, size=rng.integers(1, 13))
    rec = record(params, tokens, causal=causal)
    np.testing.assert_allclose(rec.logits, transformer(tokens, **params, causal=causal),
                               rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n_layers=st.integers(0, 3), n_heads=st.integers(1, 3), d_ff=st.integers(0, 6),
       n=st.integers(1, 12), seed=st.integers(0, 2 ** 16), causal=st.booleans())
def test_recorded_logits_equal_transformer_any_shape(n_layers, n_heads, d_ff, n, seed, causal):
    rng = np.random.default_rng(seed)
    params = random_params(rng, n_layers=n_layers, n_heads=n_heads, d_ff=d_ff)
    tokens = rng.integers(0, 7, size=n)
    rec = record(params, tokens, causal=causal)
    np.testing.assert_allclose(rec.logits, transformer(tokens, **params, causal=causal),
                               rtol=0, atol=1e-12)
    assert len(rec.residual) == 2 * n_layers + 1
    assert all(w.shape == (n_heads, n, n) for w in rec.attn)


def test_recording_is_consistent(rng):
    params = random_params(rng, n_layers=2, n_heads=3, d_ff=5)
    tokens = np.array([1, 4, 4, 0, 6])
    rec = record(params, tokens)
    n = len(tokens)
    np.testing.assert_array_equal(rec.embedding,
                                  params["tok_emb"][tokens] + params["pos_emb"][:n])
    assert len(rec.attn) == len(rec.hidden) == len(rec.after_attn) == len(rec.after_mlp) == 2
    for i, layer in enumerate(params["layers"]):
        weights = rec.attn[i]
        assert weights.shape == (3, n, n)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-12)
        assert np.all(weights[:, np.triu_indices(n, 1)[0], np.triu_indices(n, 1)[1]] == 0)
        # The MLP's hidden units are the ReLU of the normalised post-attention stream.
        expected = np.maximum(layer_norm(rec.after_attn[i], **layer["ln2"]) @ layer["M1"]
                              + layer["b1"], 0.0)
        np.testing.assert_array_equal(rec.hidden[i], expected)
        np.testing.assert_allclose(rec.after_mlp[i], rec.after_attn[i]
                                   + rec.hidden[i] @ layer["M2"] + layer["b2"], atol=1e-12)
    names = [name for name, _ in rec.residual]
    assert names == ["embedding", "layer 0 after attention", "layer 0 after MLP",
                     "layer 1 after attention", "layer 1 after MLP"]


def test_record_keeps_float32(rng):
    params = astype(random_params(rng), np.float32)
    rec = record(params, np.array([0, 1, 2]))
    assert rec.logits.dtype == rec.attn[0].dtype == rec.hidden[0].dtype == np.float32
    np.testing.assert_array_equal(rec.logits, transformer(np.array([0, 1, 2]), **params))


def test_record_rejects_bad_tokens(rng):
    params = random_params(rng)
    with pytest.raises(ValueError):
        record(params, np.array([0, 99]))
    with pytest.raises(ValueError):
        record(params, np.zeros(13, dtype=int))  # past block_size


def test_decode_steps_match_decoding(rng):
    from taotp import decode

    params = random_params(rng)
    steps = decode_steps(params, np.array([3, 1]), max_steps=4)
    full = decode(np.array([3, 1]), params, max_steps=4)
    assert [s.predicted for s in steps] == list(full[2:])
    for s in steps:
        assert list(s.context) == list(full[:2 + s.index])
        assert int(np.argmax(record(params, s.context).logits[-1])) == s.predicted


def test_trace_of_random_params(rng, tmp_path):
    params = random_params(rng, n_layers=2, n_heads=2)
    fig = trace(params, [1, 2, 3], max_steps=3, step=1, title="random")
    assert "decode step 1 (of 0..2)" in fig.get_suptitle()
    check_png(save(fig, tmp_path / "random.png", dpi=70))


def test_trace_errors(rng):
    params = random_params(rng)
    with pytest.raises(ValueError, match="out of range"):
        trace(params, [1, 2], max_steps=2, step=2)
    with pytest.raises(ValueError, match="0 steps"):
        trace(params, [1, 2], max_steps=0)
    with pytest.raises(TypeError, match="token ids"):
        trace(params, "1 2")
    with pytest.raises(TypeError, match="Task or a params dict"):
        trace([1, 2], [1])
    with pytest.raises(TypeError, match="step"):
        trace(params, [1], step=1.5)


def _top_k_mlp_params(rng, d_ff):
    """One layer whose MLP has many active units, to check the top-k selection."""
    params = random_params(rng, n_layers=1, d_ff=d_ff)
    layer = params["layers"][0]
    layer["M1"][:] = 0.0
    layer["b1"] = 1.0 + np.arange(d_ff) % 97  # all fire; the largest are 96 mod 97
    return params


def test_trace_shows_only_top_k_mlp_units(rng):
    fig = trace(_top_k_mlp_params(rng, d_ff=300), [1, 2], top_k=3)
    mlp = [ax for ax in fig.get_axes() if "MLP hidden" in ax.get_title()]
    assert len(mlp) == 1 and "(d_ff=300):\n3 largest of 300 active at the query" \
        in mlp[0].get_title()
    shown = [t.get_text() for t in mlp[0].get_xticklabels()]
    assert shown == ["96", "193", "290"]  # the units of largest activation, by index


def test_trace_mlp_unit_choices(rng):
    params = _top_k_mlp_params(rng, d_ff=300)
    for units, expected in (("smallest", ["0", "97", "194"]), ([5, 2], ["2", "5"])):
        fig = trace(params, [1, 2], top_k=3, mlp_units=units)
        mlp = [ax for ax in fig.get_axes() if "MLP hidden" in ax.get_title()][0]
        assert [t.get_text() for t in mlp.get_xticklabels()] == expected
    with pytest.raises(ValueError, match="mlp_units"):
        trace(params, [1, 2], mlp_units="median")
    with pytest.raises(ValueError, match="indices in"):
        trace(params, [1, 2], mlp_units=[300])


# Fifteen layers over a 200-token context: over a minute each to draw on a busy machine.
SLOW_TO_DRAW = {"multiset-sort", "signed-sort", "multidigit-sort"}
# The compiled RASP programs beyond the first nine are drawn in the slow run (seconds each);
# tests/test_rasp_programs.py traces an encoder and a causal encoder in the default run.
SLOW_TO_DRAW |= {name for name in PROGRAMS if name.startswith("rasp-")} - {
    "rasp-reverse", "rasp-sort", "rasp-length", "rasp-hist", "rasp-sort-freq", "rasp-count",
    "rasp-shift", "rasp-frac-prevs", "rasp-cumsum"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.slow] * (n in SLOW_TO_DRAW))
                                  for n in sorted(PROGRAMS)])
def test_trace_every_registered_program(name, tmp_path, default_task):
    program = PROGRAMS[name]
    task = default_task(name)
    # A program's first example, or (for one without examples) a sampled prompt.
    prompt = task.encode(program.examples[0]) if program.examples \
        else task.sample(np.random.default_rng(0), 1)[0]
    fig = trace(task, prompt, title=program.title)
    check_png(save(fig, tmp_path / f"{name}.png", dpi=70))
    # The drawn step is the last of greedy decoding, whose output is the reference answer.
    expected = list(task.reference(prompt))
    assert f"predicts {_label(task, expected[-1])}" in fig.get_suptitle()


def _label(task, token):
    from taotp.plotting import token_labels

    return token_labels(task.render, [token], eos=task.eos)[0]
