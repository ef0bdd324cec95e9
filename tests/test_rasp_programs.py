"""Compiled RASP programs as registered programs: every library program, as an encoder (one
non-causal pass) and as a causal encoder (``causal=True``), runs, verifies, traces and
exports like every other program."""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from constructions import PROGRAMS, get_program
from constructions.cli import main
from constructions.rasp_lib import LIBRARY
from constructions.rasp_programs import LIBRARY_NAMES
from taotp import astype, forward_batch, transformer
from taotp.textformat import load
from taotp.trace import trace
from taotp.verify import verify

NAMES = sorted(name for name in PROGRAMS if name.startswith("rasp-"))
LIBRARY_OF = {name: library for library, name in LIBRARY_NAMES.items()}
# Heavy to build and check exhaustively (millions of parameters even at their shortest).
HEAVY = ("rasp-add", "rasp-dyck2")
# Every selector of these reads only keys at or before its query: compiled causally masked
# even as encoders (``rasp.compile``), and checked against their non-causal references.
PREFIX = {"rasp-blog-shift", "rasp-cumsum", "rasp-detect-pattern", "rasp-dyck1",
          "rasp-frac-prevs", "rasp-pair-balance", "rasp-shift", "rasp-window-sum"}


def small_options(name: str) -> dict:
    """Options whose whole domain is at most ~1,000 inputs (before the precondition)."""
    program = get_program(name)
    options = {o.name: o for o in program.options}
    size = 3 if "vocab_size" in options else len(LIBRARY[LIBRARY_OF[name]].alphabet)
    length = options["max_seq_len"]
    n = max([length.low] + [k for k in range(length.low, min(length.high, 6) + 1)
                            if sum(size ** j for j in range(1, k + 1)) <= 1000])
    return {"max_seq_len": n} | ({"vocab_size": 3} if "vocab_size" in options else {})


def _cases():
    return [pytest.param(name, causal, marks=[pytest.mark.slow] if name in HEAVY else [],
                         id=f"{name}-{'causal' if causal else 'encoder'}")
            for name in NAMES for causal in (False, True)]


def test_every_library_program_is_registered_once():
    assert set(LIBRARY_NAMES) == set(LIBRARY)
    assert len(set(LIBRARY_NAMES.values())) == len(LIBRARY) == len(NAMES)
    assert set(LIBRARY_NAMES.values()) == set(NAMES)
    for name in NAMES:
        options = {o.name: o for o in get_program(name).options}
        assert options["causal"].type is bool and options["causal"].default is False
        integers = all(isinstance(a, int) for a in LIBRARY[LIBRARY_OF[name]].alphabet)
        assert "vocab_size" in options or not integers, name


@pytest.mark.parametrize("name, causal", _cases())
def test_exhaustive_small_domain(name, causal):
    """Every input of a small domain, float64 and (unless the entry says why not) float32;
    every one of them satisfies the library's precondition, and so does every sample."""
    program = get_program(name)
    task = program.make(causal=causal, **small_options(name))
    assert task.kind == ("causal-encoder" if causal or name in PREFIX else "encoder")
    domain = task.exhaustive()
    entry = LIBRARY[LIBRARY_OF[name]]
    valid = entry.precondition or (lambda xs: True)
    vocab = task.options["vocab"]  # token id i is vocab[i - 1]
    prompts = list(domain) + task.sample(np.random.default_rng(0), 50) + task.adversarial()
    assert len(list(domain)) == len(domain)
    for prompt in prompts:
        assert valid([vocab[i - 1] for i in prompt[1:]]), (name, prompt)
    report = verify(task, exhaustive=True, progress=False)
    assert report.ok and report.n_inputs == len(domain), report.summary()
    if not program.float32_note():
        report = verify(task, dtype="float32", exhaustive=True, progress=False)
        assert report.ok, report.summary()


# Programs whose causal output at i is the plain answer on the prefix 0..i, at its last
# position: there the causal reference (RASP's causal semantics) meets the plain-Python one.
PREFIX_WISE = ("rasp-length", "rasp-hist", "rasp-count", "rasp-frac-prevs", "rasp-cumsum",
               "rasp-shift", "rasp-blog-length", "rasp-blog-histogram", "rasp-paper-histogram",
               "rasp-blog-shift", "rasp-window-sum", "rasp-detect-pattern", "rasp-dyck1",
               "rasp-pair-balance")


@pytest.mark.parametrize("name", PREFIX_WISE)
def test_causal_outputs_are_the_prefixes_answers(name):
    options = small_options(name)
    causal = get_program(name).make(causal=True, **options)
    plain = get_program(name).make(**options)
    for prompt in causal.sample(np.random.default_rng(5), 30) + causal.adversarial():
        want = [plain.reference(prompt[:i + 2])[-1] for i in range(len(prompt) - 1)]
        np.testing.assert_array_equal(causal.reference(prompt), want)
        np.testing.assert_array_equal(causal.outputs(prompt), want)


@pytest.mark.parametrize("name, text, what", [
    ("rasp-add", "12", "precondition"), ("rasp-add", "1++2", "precondition"),
    ("rasp-split-first", "x+y+", "exactly one"), ("rasp-sort-unique", "1 1", "unique"),
    ("rasp-index", "a", "length >= 2"), ("rasp-ralign", "_x", "only at the end"),
    ("rasp-slide", "x<", "non-'<' last"), ("rasp-flip", "abd", "alphabet 'abc'"),
    ("rasp-sort", "", "empty"), ("rasp-sort", "0 1 2 0 1 2 0 1 2", "do not fit"),
    ("rasp-sort", "5", "0..4"), ("rasp-sort", "-1", "not an integer"),
])
def test_bad_inputs_name_the_problem(name, text, what):
    task = get_program(name).make()
    with pytest.raises(ValueError, match=what):
        task.run(text)


def test_causal_option_is_a_bool():
    program = get_program("rasp-length")
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match="True or False"):
            program.make(causal=bad)


def test_task_kind_is_checked():
    task = get_program("rasp-length").make(max_seq_len=4)
    assert (task.kind, task.encoder, task.causal) == ("encoder", True, False)
    causal = replace(task, kind="causal-encoder")
    assert (causal.encoder, causal.causal) == (True, True)
    decoder = get_program("min").make()
    assert (decoder.kind, decoder.encoder, decoder.causal) == ("decoder", False, True)
    with pytest.raises(ValueError, match="kind must be one of decoder, encoder"):
        replace(task, kind="causal")


def test_causal_encoder_is_one_masked_pass():
    task = get_program("rasp-length").make(max_seq_len=6, causal=True)
    prompt = task.encode("1 0 2 2")
    assert task.run("1 0 2 2") == "1 2 3 4"
    masked = transformer(prompt, **task.params, causal=True)[1:].argmax(-1)
    np.testing.assert_array_equal(task.outputs(prompt), masked)
    batch = forward_batch(prompt[None], task.params, logits_from=1, causal=True)
    np.testing.assert_array_equal(batch[0].argmax(-1), masked)
    full = transformer(prompt, **task.params, causal=False)[1:].argmax(-1)
    assert not np.array_equal(full, masked)  # the mask changes the answer (4 4 4 4)


def test_forward_batch_non_causal_matches_the_plain_pass():
    task = get_program("rasp-sort").make(vocab_size=3, max_seq_len=4)
    rng = np.random.default_rng(0)
    rows = np.stack([task.encode(" ".join(map(str, rng.integers(0, 3, 4)))) for _ in range(20)])
    batch = forward_batch(rows, task.params, logits_from=1, causal=False)
    plain = np.stack([transformer(r, **task.params, causal=False)[1:] for r in rows])
    np.testing.assert_allclose(batch, plain, rtol=1e-9, atol=1e-9)
    logits32 = forward_batch(rows, astype(task.params, np.float32), logits_from=1, causal=False)
    assert logits32.dtype == np.float32


@pytest.mark.parametrize("causal", [False, True])
def test_verify_verdicts_are_task_runs_even_when_wrong(causal):
    """A broken encoder: verify's count and failures are exactly what Task.run says."""
    task = get_program("rasp-reverse").make(vocab_size=3, max_seq_len=4, causal=causal)
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


def test_outputs_refuses_a_decoder_task():
    task = get_program("min").make()
    with pytest.raises(ValueError, match="encoder"):
        task.outputs(task.encode("3 1"))


@pytest.mark.parametrize("causal", [False, True])
def test_trace_draws_the_one_forward_pass(causal):
    task = get_program("rasp-sort").make(vocab_size=3, max_seq_len=4, causal=causal)
    figure = trace(task, "2 0 1")
    assert "forward pass on" in figure._suptitle.get_text()
    assert f"outputs [{task.run('2 0 1')}]" in figure._suptitle.get_text()
    with pytest.raises(ValueError, match="no decode steps"):
        trace(task, "2 0 1", step=0)


def _cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_cli_list_run_verify_trace_export(capsys, tmp_path):
    code, out = _cli(capsys, "list")
    assert code == 0 and all(f"{name}  (" in out for name in NAMES)
    assert "--causal/--no-causal" in out
    assert _cli(capsys, "run", "rasp-reverse", "1 2 3") == (0, "3 2 1\n")
    assert _cli(capsys, "run", "rasp-length", "--causal", "1 2 3") == (0, "1 2 3\n")
    assert _cli(capsys, "run", "rasp-add", "99+1") == (0, "0 1 0 0\n")
    code, out = _cli(capsys, "verify", "rasp-hist", "--vocab-size", "3", "--max-seq-len", "4",
                     "--exhaustive")
    assert code == 0 and "120/120 correct" in out
    code, out = _cli(capsys, "verify", "rasp-dyck1", "--causal", "--max-seq-len", "6",
                     "--exhaustive")
    assert code == 0 and "126/126 correct" in out
    png = tmp_path / "t.png"
    assert _cli(capsys, "trace", "rasp-length", "--causal", "1 2", "--out", str(png))[0] == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    for causal in ((), ("--causal",)):
        task = get_program("rasp-reverse").make(causal=bool(causal))
        for suffix, fmt in ((".taotp", "text"), (".npz", "npz")):
            path = tmp_path / f"rev{suffix}"
            assert _cli(capsys, "export", "rasp-reverse", *causal, "--to", fmt,
                        "--out", str(path))[0] == 0
            # the file holds params only; the task (its kind) says how to run them
            loaded = replace(task, params=load(path))
            assert loaded.run("4 0 3 3") == task.run("4 0 3 3")
    code, out = _cli(capsys, "export", "rasp-reverse", "--to", "gpt2",
                     "--out", str(tmp_path / "g"))
    assert code != 0 and "causal only" in out


def test_transformer_lens_export_is_bidirectional():
    pytest.importorskip("torch")
    pytest.importorskip("transformer_lens")
    from taotp.export import logits_of, to_transformer_lens

    task = get_program("rasp-reverse").make(vocab_size=3, max_seq_len=4)
    model = to_transformer_lens(task.params, causal=False)
    assert model.cfg.attention_dir == "bidirectional"
    prompt = task.encode("2 0 1 1")
    theirs = logits_of(model, prompt[None])[0]
    ours = transformer(prompt, **task.params, causal=False)
    np.testing.assert_allclose(theirs, ours, rtol=1e-7, atol=1e-7)


def test_gpt2_export_of_a_causal_encoder_round_trips(capsys, tmp_path):
    """The CLI writes GPT-2; ``from_pretrained`` loads it; its one pass gives our logits and
    the task's outputs on every input of a small domain."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from transformers import GPT2LMHeadModel

    from taotp.export import logits_of

    options = ("--vocab-size", "3", "--max-seq-len", "4", "--causal")
    out = tmp_path / "sort-gpt2"
    assert _cli(capsys, "export", "rasp-sort", *options, "--to", "gpt2", "--out", str(out))[0] == 0
    model = GPT2LMHeadModel.from_pretrained(out)
    task = get_program("rasp-sort").make(vocab_size=3, max_seq_len=4, causal=True)
    for prompt in itertools.islice(task.exhaustive(), 0, None, 7):
        theirs = logits_of(model, prompt[None])[0]
        ours = transformer(prompt, **task.params, causal=True)
        np.testing.assert_allclose(theirs, ours, rtol=1e-7, atol=1e-7)
        np.testing.assert_array_equal(theirs[1:].argmax(-1), task.reference(prompt))


@pytest.mark.slow
@pytest.mark.parametrize("name, causal", [(n, c) for n in NAMES for c in (False, True)])
def test_exact_at_the_declared_highs_on_many_inputs(name, causal):
    """The measurement behind each entry's max_seq_len (and VOCAB_SIZE) high: every limited
    option at its high, encoder and causal encoder."""
    program = get_program(name)
    highs = {o.name: o.high for o in program.options if o.type is int}
    report = verify(program.make(causal=causal, **highs), samples=500, seed=11,
                    progress=False)
    assert report.ok, report.summary()
