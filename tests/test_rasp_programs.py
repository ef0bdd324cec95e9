"""Compiled RASP programs as registered programs: encoder tasks (one non-causal pass) that
run, verify, trace and export like every other program."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from constructions import get_program
from constructions.cli import main
from taotp import astype, forward_batch, transformer
from taotp.textformat import load
from taotp.trace import trace
from taotp.verify import verify

NAMES = ("rasp-reverse", "rasp-sort", "rasp-length", "rasp-hist", "rasp-sort-freq", "rasp-count",
         "rasp-shift", "rasp-frac-prevs", "rasp-cumsum")


@pytest.fixture(scope="module")
def small():
    return {name: get_program(name).make(vocab_size=3, max_seq_len=4) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_exhaustive_small_domain_float64_and_float32(small, name):
    task = small[name]
    assert verify(task, exhaustive=True, progress=False).ok
    assert verify(task, dtype="float32", exhaustive=True, progress=False).ok


def test_forward_batch_non_causal_matches_the_plain_pass(small):
    task = small["rasp-sort"]
    rng = np.random.default_rng(0)
    rows = np.stack([task.encode(" ".join(map(str, rng.integers(0, 3, 4)))) for _ in range(20)])
    batch = forward_batch(rows, task.params, logits_from=1, causal=False)
    plain = np.stack([transformer(r, **task.params, causal=False)[1:] for r in rows])
    np.testing.assert_allclose(batch, plain, rtol=1e-9, atol=1e-9)
    causal = forward_batch(rows, task.params, logits_from=1)
    assert not np.allclose(causal, plain)  # the flag really changes the mask
    logits32 = forward_batch(rows, astype(task.params, np.float32), logits_from=1, causal=False)
    assert logits32.dtype == np.float32


def test_verify_verdicts_are_task_runs_even_when_wrong(small):
    """A broken encoder: verify's count and failures are exactly what Task.run says."""
    task = small["rasp-reverse"]
    params = astype(task.params, np.float64)
    params["out_emb"] = params["out_emb"][::-1].copy()  # scramble the outputs
    broken = replace(task, params=params)
    prompts = task.sample(np.random.default_rng(3), 40) + list(task.adversarial())
    texts = [" ".join(str(int(i) - 1) for i in p[1:]) for p in prompts]  # ids 1.. are 0..
    right = sum(broken.run(text) == broken.answer(text) for text in texts)
    report = verify(broken, samples=40, seed=3, progress=False, max_failures=1000)
    assert report.n_inputs == len(prompts) and report.n_passed == right < len(prompts)
    for prompt, expected, got in report.failures:
        np.testing.assert_array_equal(got, broken.outputs(np.array(prompt)))


def test_outputs_refuses_a_causal_task():
    task = get_program("min").make()
    with pytest.raises(ValueError, match="encoder"):
        task.outputs(task.encode("3 1"))


def test_bad_inputs_name_the_problem(small):
    task = small["rasp-sort"]
    for text, what in (("", "empty"), ("0 1 2 0 1", "do not fit"), ("3", "0..2"),
                       ("-1", "not an integer"), ("a", "not an integer")):
        with pytest.raises(ValueError, match=what):
            task.run(text)


def test_trace_draws_the_one_forward_pass(small):
    figure = trace(small["rasp-sort"], "2 0 1")
    assert "forward pass on" in figure._suptitle.get_text()
    with pytest.raises(ValueError, match="no decode steps"):
        trace(small["rasp-sort"], "2 0 1", step=0)


def _cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_cli_run_verify_trace_export(capsys, tmp_path):
    assert _cli(capsys, "run", "rasp-reverse", "1 2 3") == (0, "3 2 1\n")
    code, out = _cli(capsys, "verify", "rasp-hist", "--vocab-size", "3", "--max-seq-len", "4",
                     "--exhaustive")
    assert code == 0 and "120/120 correct" in out
    png = tmp_path / "t.png"
    assert _cli(capsys, "trace", "rasp-length", "1 2", "--out", str(png))[0] == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    task = get_program("rasp-reverse").make()
    for suffix, fmt in ((".taotp", "text"), (".npz", "npz")):
        path = tmp_path / f"rev{suffix}"
        assert _cli(capsys, "export", "rasp-reverse", "--to", fmt, "--out", str(path))[0] == 0
        # the file holds params only; the task (causal=False) says how to run them
        loaded = replace(task, params=load(path))
        assert loaded.run("4 0 3 3") == task.run("4 0 3 3") == "3 3 0 4"
    code, out = _cli(capsys, "export", "rasp-reverse", "--to", "gpt2",
                     "--out", str(tmp_path / "g"))
    assert code != 0 and "causal only" in out


def test_transformer_lens_export_is_bidirectional(small):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformer_lens")
    from taotp.export import logits_of, to_transformer_lens

    task = small["rasp-reverse"]
    model = to_transformer_lens(task.params, causal=False)
    assert model.cfg.attention_dir == "bidirectional"
    prompt = task.encode("2 0 1 1")
    theirs = logits_of(model, prompt[None])[0]
    ours = transformer(prompt, **task.params, causal=False)
    np.testing.assert_allclose(theirs, ours, rtol=1e-7, atol=1e-7)
    assert torch is not None


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_exact_at_the_declared_highs_on_many_inputs(name):
    """The measurement behind VOCAB_SIZE.high and MAX_SEQ_LEN.high, with more inputs than
    test_limits' 30."""
    program = get_program(name)
    highs = {o.name: o.high for o in program.options}
    report = verify(program.make(**highs), samples=500, seed=11, progress=False)
    assert report.ok, report.summary()
