"""Every registered program, through the registry's contract: it builds, runs its examples,
agrees with its reference, rejects garbage clearly, and tells the truth about float32."""
from __future__ import annotations

import numpy as np
import pytest

from constructions import PROGRAMS, get_program
from constructions.registry import DECODERS
from taotp import astype, decode, decode_cached, forward_batch
from taotp.program import Program
from taotp.verify import verify

NAMES = sorted(PROGRAMS)


def _outputs(task, prompt, decoder=decode):
    """What the task emits for a prompt: its greedy decode, or an encoder's one pass."""
    if task.encoder:
        return task.outputs(prompt)
    out = decoder(prompt, task.params, max_steps=task.steps(prompt), eos=task.eos)
    return out[len(prompt):]


def test_unknown_program_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid: .*" + NAMES[0]):
        get_program("no-such-program")


def test_unknown_option_is_a_clear_error():
    program = PROGRAMS[NAMES[0]]
    with pytest.raises(ValueError, match="no option bogus"):
        program.make(bogus=1)


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_complete(name):
    program = PROGRAMS[name]
    assert isinstance(program, Program) and program.name == name
    assert program.title and program.section and program.summary and program.input_format
    assert program.examples, "the demo needs examples"
    for option in program.options:
        assert isinstance(option.default, option.type)


@pytest.mark.parametrize("name", NAMES)
def test_the_registry_knows_which_programs_decode(default_task, name):
    """``DECODERS`` (what tests of decoding iterate over) is exactly the decoder tasks."""
    assert (name in DECODERS) == (default_task(name).kind == "decoder")


@pytest.mark.parametrize("name", NAMES)
def test_examples_decode_to_the_reference(default_task, name):
    task = default_task(name)
    for text in PROGRAMS[name].examples:
        prompt = task.encode(text)
        expected = task.reference(prompt)
        ends_in_eos = task.eos is not None and expected[-1] == task.eos
        length = len(prompt) - 1 if task.encoder else task.steps(prompt)
        assert len(expected) == length or (ends_in_eos and len(expected) <= length)
        np.testing.assert_array_equal(_outputs(task, prompt), expected)
        assert task.run(text) == task.answer(text)


@pytest.mark.parametrize("name", NAMES)
def test_random_inputs_pass_with_cached_decoding(default_task, name):
    task = default_task(name)
    for prompt in task.sample(np.random.default_rng(0), 5):
        np.testing.assert_array_equal(_outputs(task, prompt, decode_cached),
                                      task.reference(prompt))


@pytest.mark.parametrize("name", NAMES)
def test_verify_sample_passes(default_task, name):
    report = verify(default_task(name), samples=50, progress=False)
    assert report.ok, report.failures
    # 0 is a tie the argmax breaks toward the lower id, as numpy's does in the book's decode
    # (DECIMAL ADDITION gives '+' and '=' the embedding of 0, so 0 ties with them).
    assert report.worst_margin >= 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("garbage", ["@@", "1 2 x", "99999999999"])
def test_garbage_input_is_a_clear_error(default_task, name, garbage):
    task = default_task(name)
    try:
        prompt = task.encode(garbage)
    except ValueError as error:
        assert str(error)
        return
    # Some programs accept odd-looking text; then it must be a valid prompt they answer right.
    np.testing.assert_array_equal(_outputs(task, prompt), task.reference(prompt))


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("name", NAMES)
def test_float32_claims_are_true(default_task, name):
    """A program whose entry says nothing about float32 must be exact in float32: in the
    batched teacher-forced pass (``verify``'s) and as ``run`` decodes, one row at a time
    through the cache (float32 rounds the two differently: multiplication told them apart)."""
    task = default_task(name)
    params32 = astype(task.params, np.float32)
    prompts = task.sample(np.random.default_rng(1), 20)
    if task.adversarial:
        prompts += list(task.adversarial())[:20]
    ok = True
    for prompt in prompts:
        expected = task.reference(prompt)
        if task.encoder:
            logits = forward_batch(prompt[None], params32, logits_from=1, causal=task.causal)
        else:
            rows = np.concatenate((prompt, expected[:-1]))[None]
            logits = forward_batch(rows, params32, logits_from=len(prompt) - 1)
            decoded = decode_cached(prompt, params32, max_steps=len(expected), eos=task.eos)
            ok &= bool(np.array_equal(decoded[len(prompt):], expected))
        assert logits.dtype == np.float32
        ok &= bool(np.array_equal(np.argmax(logits[0], axis=-1), expected))
    if not PROGRAMS[name].float32_note():
        assert ok, f"{name} claims to work in float32 but fails"


def test_the_engine_never_reaches_back_to_the_programs():
    """Imports go one way (constructions -> taotp): no taotp module imports the programs'
    package or spells a registered program's name."""
    import ast
    from pathlib import Path

    import taotp

    for path in sorted(Path(taotp.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                modules = []
            assert not any(m.split(".")[0] == "constructions" for m in modules), path
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in PROGRAMS, f"{path} names the program {node.value!r}"
