"""Fuzzing (issue 13): random strings into every program's ``run``, random text and bytes into
both loaders, random option values into every ``make``. Each either succeeds with the
reference answer or raises ValueError/TypeError: never another exception or a wrong answer.
Bounded: few examples each, no deadline flakiness (the machine is shared)."""
from __future__ import annotations

import io
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constructions import PROGRAMS
from taotp.textformat import compile_TAOTP, load_npz, save_npz

FAST = settings(max_examples=10, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Defaults, but the million-number MINs at a size that builds in milliseconds.
SMALL = {"stable-min": {"block_size": 50}, "stable-max": {"block_size": 50}}


@pytest.fixture(scope="module")
def tasks():
    return {name: program.make(**SMALL.get(name, {})) for name, program in PROGRAMS.items()}


def words(alphabet):
    return st.lists(st.text(alphabet, min_size=1, max_size=4), max_size=8).map(" ".join)


TEXTS = st.one_of(st.text(max_size=30), words("0123456789"), words("0123456789+=-"),
                  words("0123456789١²_ +-e."))


@FAST
@given(data=st.data())
def test_random_text_into_every_program(tasks, data):
    for name, task in tasks.items():
        text = data.draw(TEXTS, label=name)
        try:
            got = task.run(text)
        except (ValueError, TypeError):
            continue
        assert got == task.answer(text), (name, text)


@FAST
@given(text=st.one_of(st.text(max_size=200),
                      st.text("{}[]:,.-+0123456789e\"' tok_embposlayersQKVPM12bgammaet",
                              max_size=200)))
def test_random_text_into_the_text_loader(text):
    try:
        compile_TAOTP(text)
    except (ValueError, TypeError):
        pass


def _npz_bytes():
    buffer = io.BytesIO()
    save_npz(PROGRAMS["min"].make(vocab_size=4, block_size=4).params, buffer)
    return buffer.getvalue()


VALID_NPZ = _npz_bytes()


@FAST
@given(blob=st.one_of(
    st.binary(max_size=300),
    st.lists(st.tuples(st.integers(0, len(VALID_NPZ) - 1), st.integers(1, 255)),
             min_size=1, max_size=4).map(
        lambda flips: bytes(b ^ dict(flips).get(i, 0) for i, b in enumerate(VALID_NPZ))),
    st.integers(0, len(VALID_NPZ)).map(lambda n: VALID_NPZ[:n])))
def test_random_bytes_into_the_npz_loader(blob):
    try:
        params = load_npz(io.BytesIO(blob))
    except ValueError:
        return
    for value in (params["tok_emb"], params["pos_emb"], params["out_emb"]):
        assert np.all(np.isfinite(value))


def test_a_forged_npz_shape_is_refused_before_allocating():
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(VALID_NPZ)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "tok_emb.npy":
                data = data.replace(b"(4, 3)", b"(2199023255552, 3)")
            dst.writestr(info.filename, data)
    with pytest.raises(ValueError, match="declares shape"):
        load_npz(io.BytesIO(out.getvalue()))


def _values(option):
    if option.type is str:
        return st.one_of(st.text(max_size=20), st.sampled_from(option.choices or ("x",)),
                         st.integers(), st.none())
    cheap = [v for v in (option.low, option.default) if v is not None]
    edges = [v + 1 for v in (option.high, option.cap) if v is not None]
    return st.one_of(st.sampled_from(cheap + edges + [-1, 0, 10 ** 30]),
                     st.sampled_from([True, 1.5, "3", None, np.int64(2)]))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_options_into_every_make(data):
    program = data.draw(st.sampled_from(list(PROGRAMS.values())))
    options = {o.name: data.draw(_values(o), label=o.name) for o in program.options
               if data.draw(st.booleans())}
    options |= SMALL.get(program.name, {}) if not options.keys() & {"block_size"} else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            task = program.make(**options)
    except (ValueError, TypeError):
        return
    if program.examples:
        text = program.examples[0]
        try:
            assert task.run(text) == task.answer(text)
        except (ValueError, TypeError):
            pass  # the example may not fit these options
