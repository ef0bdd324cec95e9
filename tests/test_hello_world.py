"""HELLO WORLD (Chapter 2): the Simpleformer, the 0-layer transformer, the registry entry."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from constructions.hello_world import (
    PROGRAMS, ascii_tokenizer, build_hello_world_transformer, build_simpleformer_hello_world,
    decode_simpleformer, message_tokenizer, simpleformer,
)
from taotp import astype, count_non0_params, count_params, decode, decode_cached

PROGRAM = PROGRAMS[0]


def run(params, tok, decoder=decode):
    out = decoder(tok.tokenize(["<bos>"]), params, max_steps=len(params["pos_emb"]),
                  eos=tok["<eos>"])
    assert out[-1] == tok.eos
    return tok.detokenize(out[1:-1])


def test_figure_2_9_as_typed_in_the_book():
    from taotp import base_params, pos_enc_3d_array
    message = ["<bos>"] + list("Hello World!") + ["<eos>"]
    _, tokenizer = build_hello_world_transformer()
    tokenize, detokenize = tokenizer.tokenize, tokenizer.detokenize
    block_size = len(message) - 1
    vocab_size = len(tokenizer)
    params = base_params(vocab_size, block_size, d_model=3)
    params['tok_emb'] = params['out_emb'] = pos_enc_3d_array(vocab_size)
    params['pos_emb'] = params['out_emb'][tokenize(message)[1:]] * 1_000_000
    output = detokenize(decode(tokenize(['<bos>']), params, eos=tokenizer['<eos>'])[1:-1])
    assert output == 'Hello World!'


def test_message_tokenizer_is_deterministic_first_appearance():
    tok = message_tokenizer("Hello World!")
    assert tok.symbols == ("<bos>", "H", "e", "l", "o", " ", "W", "r", "d", "!", "<eos>")
    assert (tok.bos, tok.eos, len(tok)) == (0, 10, 11)
    assert tok["l"] == 3 and tok["<eos>"] == 10
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok["z"]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.detokenize([11])


def test_ascii_tokenizer():
    tok = ascii_tokenizer()
    assert len(tok) == 256 and tok.bos == tok.eos == 0
    assert list(tok.tokenize("Hi!")) == [72, 105, 33]


@pytest.mark.parametrize("tokenizer,n_params,non0", [("message", 72, 71), ("ascii", 807, 805)])
def test_book_sizes(tokenizer, n_params, non0):
    params, tok = build_hello_world_transformer(tokenizer=tokenizer)
    assert count_params(params)["n_params"] == n_params
    assert count_non0_params(params)["n_params"] == non0
    assert PROGRAM.book_size(tokenizer=tokenizer) == {"n_params": n_params}
    assert run(params, tok) == run(params, tok, decode_cached) == "Hello World!"


def test_simpleformer():
    pos_emb, out_emb, tok = build_simpleformer_hello_world()
    assert pos_emb.shape == (13, 2) and out_emb.shape == (11, 2)
    logits = simpleformer(np.zeros(13, dtype=int), pos_emb, out_emb)
    assert tok.detokenize(np.argmax(logits, axis=-1)) == "Hello World!<eos>"
    out = decode_simpleformer(tok.tokenize(["<bos>"]), pos_emb, out_emb, tok.eos)
    assert tok.detokenize(out[1:-1]) == "Hello World!"


def test_simpleformer_without_eos_stops():
    pos_emb, out_emb, tok = build_simpleformer_hello_world("ab")
    with pytest.raises(ValueError, match="no eos"):
        decode_simpleformer([0], pos_emb[:2], out_emb, eos=tok.eos)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["message", "ascii"]))
def test_any_message(message, tokenizer):
    ascii_ok = all(0 < ord(c) < 128 for c in message)
    if tokenizer == "ascii" and not ascii_ok:
        with pytest.raises(ValueError, match="ASCII tokenizer"):
            build_hello_world_transformer(message, tokenizer)
        return
    params, tok = build_hello_world_transformer(message, tokenizer)
    assert count_params(params)["n_params"] == 3 * (len(message) + 1 + len(tok))
    assert run(params, tok) == message
    assert run(astype(params, np.float32), tok) == message


def test_long_message_with_many_symbols():
    message = "".join(chr(0x400 + i) for i in range(500)) * 2  # 500 distinct Cyrillic-ish
    params, tok = build_hello_world_transformer(message)
    assert len(tok) == 502
    assert run(params, tok, decode_cached) == message
    assert run(astype(params, np.float32), tok, decode_cached) == message


def test_empty_message_prints_nothing():
    for tokenizer in ("message", "ascii"):
        task = PROGRAM.make(message="", tokenizer=tokenizer)
        assert task.run("") == task.answer("") == ""


def test_bad_builds():
    with pytest.raises(ValueError, match="ASCII tokenizer has no id for 'é'") as e:
        build_hello_world_transformer("héllo\u4e16", "ascii")
    with pytest.raises(ValueError, match="ASCII tokenizer has no id"):
        build_hello_world_transformer("\u4e16", "ascii")
    with pytest.raises(ValueError, match="cannot contain"):
        build_hello_world_transformer("a\0b", "ascii")
    with pytest.raises(ValueError, match="tokenizer must be"):
        build_hello_world_transformer("hi", "utf8")
    with pytest.raises(TypeError, match="message must be a str"):
        build_hello_world_transformer(42)
    assert e.type is ValueError


@pytest.mark.parametrize("tokenizer", ["message", "ascii"])
def test_registry_entry(tokenizer):
    task = PROGRAM.make(tokenizer=tokenizer)
    assert PROGRAM.name == "hello-world" and PROGRAM.float32 == ""
    assert task.run("") == task.answer("") == "Hello World!"
    assert task.eos == (10 if tokenizer == "message" else 0)
    prompts = list(task.exhaustive()) + task.sample(np.random.default_rng(0), 3)
    for prompt in prompts + task.adversarial():
        out = decode(prompt, task.params, max_steps=task.steps(prompt), eos=task.eos)
        assert list(out[len(prompt):]) == list(task.reference(prompt))
    task32 = PROGRAM.make(tokenizer=tokenizer)
    params32 = astype(task32.params, np.float32)
    out = decode_cached(task.encode(""), params32, max_steps=13, eos=task.eos)
    assert task.render(out[1:]) == "Hello World!"


def test_registry_message_option():
    task = PROGRAM.make(message="Bonjour, monde ✓")
    assert task.run("") == "Bonjour, monde ✓"
    with pytest.raises(ValueError, match="no option"):
        PROGRAM.make(messages="x")


@pytest.mark.parametrize("text", ["H", " ", "<bos>", "Hello World!"])
def test_any_input_is_an_error(text):
    task = PROGRAM.make()
    with pytest.raises(ValueError, match="no input after <bos>"):
        task.encode(text)


def test_bad_prompts_and_ids():
    task = PROGRAM.make()
    with pytest.raises(ValueError, match="only prompt"):
        task.reference(np.array([0, 1]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        decode(np.array([11]), task.params, max_steps=1)
    with pytest.raises(ValueError, match="do not fit"):
        decode(np.zeros(14, dtype=int), task.params, max_steps=1)
    with pytest.raises(ValueError, match="empty"):
        decode(np.zeros(0, dtype=int), task.params, max_steps=1)
    with pytest.raises(TypeError):
        task.encode(None)
