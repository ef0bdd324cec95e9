"""HELLO WORLD (Chapter 2): print a fixed message, with no input after <bos>.

Input ``[<bos>]``, output ``[H, e, l, l, o, ' ', W, o, r, l, d, !, <eos>]``.

The output depends on the absolute position alone, so a 0-layer transformer does it: each
token embedding is a point of the 3D sqrt(3)-circle (fixed under layer norm, Section 2.3)
and ``pos_emb[i]`` is the embedding of the token to emit at position i times N = 1e6, so that
``layer_norm(tok_emb[t_i] + pos_emb[i])`` is (almost) ``tok_emb[t_{i+1}]`` and tied
embeddings pick it out (Figure 2.9). Size: 0 layers, d_model = 3, block_size = |message| + 1.
Parameters: 72 = (13 + 11) * 3 with the message's own tokenizer (11 symbols), 807 =
(13 + 256) * 3 with the ASCII tokenizer. Non-zero: 71 of 72 and 805 of 807 (the circle
point at angle 0 has a zero coordinate).

Also the Simpleformer of Section 2.1 (Figures 2.1, 2.4): positions only, no layer norm, the
2D unit circle.

Book bugs fixed: Figure 2.4 numbers symbols in ``set()`` order, which changes from run to run
(string hashing is randomised); we number them in order of first appearance, <bos> first and
<eos> last. ``decode_simpleformer`` loops forever if <eos> never comes; ours stops with a
ValueError at the end of ``pos_emb``.

>>> params, tokenizer = build_hello_world_transformer()
>>> from taotp import count_params, decode
>>> count_params(params)["n_params"]
72
>>> out = decode(tokenizer.tokenize(["<bos>"]), params, eos=tokenizer["<eos>"])
>>> tokenizer.detokenize(out[1:-1])
'Hello World!'
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Sequence

import numpy as np

from taotp.blocks import pos_enc_3d_array
from taotp.model import base_params
from taotp.program import Option, Program, Task

BOS, EOS = "<bos>", "<eos>"
N = 1_000_000.0  # messy cleanup (Section 3.4): the position embedding drowns the token's


@dataclass(frozen=True)
class Tokenizer:
    """Symbols <-> ids. ``symbols[i]`` is the symbol of id i; <bos>/<eos> name special ids.

    ``tokenizer["<eos>"]`` and ``len(tokenizer)`` work as the book's dict does.
    """
    symbols: tuple[str, ...]
    bos: int
    eos: int

    def __post_init__(self):
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("a tokenizer's symbols must be distinct")

    def __len__(self) -> int:
        return len(self.symbols)

    def __getitem__(self, symbol: str) -> int:
        if symbol == BOS:
            return self.bos
        if symbol == EOS:
            return self.eos
        if symbol not in self._ids:
            raise ValueError(f"symbol {symbol!r} is not in the vocabulary")
        return self._ids[symbol]

    @cached_property
    def _ids(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.symbols)}

    def tokenize(self, seq: Iterable[str]) -> np.ndarray:
        """Ids of a string (one id per character) or of a list of symbols like ["<bos>"]."""
        return np.array([self[s] for s in seq], dtype=np.int64)

    def detokenize(self, ids: Sequence[int]) -> str:
        """Ids back to text; an id outside the vocabulary is an error, not a guess."""
        out = []
        for i in ids:
            if not 0 <= int(i) < len(self.symbols):
                raise ValueError(f"id {i} is outside the vocabulary [0, {len(self.symbols)})")
            out.append(self.symbols[int(i)])
        return "".join(out)


def message_tokenizer(message: str) -> Tokenizer:
    """The message's own symbols, numbered in order of first appearance between <bos>, <eos>."""
    symbols = (BOS,) + tuple(dict.fromkeys(message)) + (EOS,)
    return Tokenizer(symbols, bos=0, eos=len(symbols) - 1)


def ascii_tokenizer() -> Tokenizer:
    """Ids are byte values; "\\0" is both <bos> and <eos> (Section 2.4).

    The vocabulary has 256 ids as in the book, but only ASCII (ids 0-127) is accepted in
    messages: 128-255 would be one encoding's guess (Latin-1), not ASCII.
    """
    return Tokenizer(tuple(chr(i) for i in range(256)), bos=0, eos=0)


def simpleformer(seq, pos_emb, out_emb):
    """The Simpleformer (Figure 2.1): logits from positions alone, no layer norm."""
    x = pos_emb[np.arange(len(seq))]
    return np.einsum("nd,vd->nv", x, out_emb)


def decode_simpleformer(tokens, pos_emb, out_emb, eos):
    """Greedy decoding on the Simpleformer until ``eos`` (Figure 2.1)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    while True:
        if len(tokens) > len(pos_emb):
            raise ValueError(f"no eos within the {len(pos_emb)} positions of pos_emb")
        next_tok = int(np.argmax(simpleformer(tokens, pos_emb, out_emb)[-1]))
        tokens = np.append(tokens, next_tok)
        if next_tok == eos:
            return tokens


def build_simpleformer_hello_world(message: str = "Hello World!"):
    """Figure 2.4: ``(pos_emb, out_emb, tokenizer)`` with out_emb on the 2D unit circle.

    >>> pos_emb, out_emb, tok = build_simpleformer_hello_world()
    >>> tok.detokenize(decode_simpleformer(tok.tokenize([BOS]), pos_emb, out_emb, tok.eos)[1:-1])
    'Hello World!'
    """
    tokenizer = message_tokenizer(_check_message(message))
    t = np.linspace(0, 6, len(tokenizer))  # 6 = 2 pi - epsilon: the ends stay apart
    out_emb = np.stack((np.cos(t), np.sin(t)), axis=1)
    pos_emb = out_emb[tokenizer.tokenize(list(message) + [EOS])]
    return pos_emb, out_emb, tokenizer


def build_hello_world_transformer(message: str = "Hello World!", tokenizer: str = "message"):
    """The 0-layer HELLO WORLD transformer (Figure 2.9); returns ``(params, tokenizer)``.

    ``tokenizer`` is "message" (the message's symbols) or "ascii" (ids = byte values).
    The empty message is allowed: the program then prints nothing, just <eos>.
    """
    message = _check_message(message)
    if tokenizer == "message":
        tok = message_tokenizer(message)
    elif tokenizer == "ascii":
        bad = [c for c in message if ord(c) > 127]
        if bad:
            raise ValueError(f"the ASCII tokenizer has no id for {bad[0]!r}: "
                             "use tokenizer='message' for non-ASCII text")
        if "\0" in message:
            raise ValueError('the ASCII tokenizer uses "\\0" as <bos> and <eos>: '
                             "the message cannot contain it")
        tok = ascii_tokenizer()
    else:
        raise ValueError(f"tokenizer must be 'message' or 'ascii', not {tokenizer!r}")
    targets = tok.tokenize(list(message) + [EOS])  # the token to emit at each position
    params = base_params(len(tok), len(targets), d_model=3)
    params["tok_emb"] = params["out_emb"] = pos_enc_3d_array(len(tok))
    params["pos_emb"] = params["out_emb"][targets] * N
    return params, tok


def _check_message(message) -> str:
    if not isinstance(message, str):
        raise TypeError(f"message must be a str, not {type(message).__name__}")
    return message


def make(message: str = "Hello World!", tokenizer: str = "message") -> Task:
    """The registry's HELLO WORLD task: the weights, the one-token prompt and its answer."""
    params, tok = build_hello_world_transformer(message, tokenizer)
    prompt = np.array([tok.bos])
    expected = tok.tokenize(list(message) + [EOS])

    def encode(text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise TypeError(f"input must be a str, not {type(text).__name__}")
        if text:
            raise ValueError(f"hello-world takes no input after <bos>, got {text!r}: "
                             "pass the empty string")
        return prompt.copy()

    def render(ids) -> str:
        ids = list(ids)
        if ids and ids[-1] == tok.eos:
            ids = ids[:-1]
        return tok.detokenize(ids)

    def check_prompt(p):
        if list(np.asarray(p)) != [tok.bos]:
            raise ValueError("hello-world's only prompt is [<bos>]")

    def reference(p) -> np.ndarray:
        check_prompt(p)
        return expected.copy()

    def steps(p) -> int:
        check_prompt(p)
        return len(message) + 1

    return Task(params=params, encode=encode, render=render, steps=steps,
                reference=reference, sample=lambda rng, n: [prompt.copy() for _ in range(n)],
                exhaustive=lambda: [prompt.copy()], adversarial=lambda: [prompt.copy()],
                eos=tok.eos, options=dict(message=message, tokenizer=tokenizer))


def _book_size(message="Hello World!", tokenizer="message"):
    if message != "Hello World!":
        return None
    return {"n_params": 72 if tokenizer == "message" else 807}


PROGRAMS = (
    Program(
        name="hello-world", title="HELLO WORLD", section="Chapter 2",
        summary="A 0-layer transformer that prints a fixed message: pos_emb[i] is the "
                "next token's embedding times 1e6.",
        input_format='nothing: the empty string "" (the prompt is just <bos>)',
        build=make,
        options=(Option("message", str, "Hello World!", "the message to print", "--message",
                        cap=10_000),
                 Option("tokenizer", str, "message",
                        "'message' (the message's own symbols) or 'ascii' (byte values)",
                        "--tokenizer", choices=("message", "ascii"))),
        examples=("",),
        book_size=_book_size,
        sizes=({"tokenizer": "ascii"},),
    ),
)
