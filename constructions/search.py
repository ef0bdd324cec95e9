"""SEARCH (Chapter 4): find the last ``prefix_len`` tokens earlier in the input, output what
followed them.

With ``prefix_len=3``: input ``[1, 2, 3, 4, 5, 6, 1, 2, 3]``, output ``4``. Inputs where the
query occurs zero or several times earlier are undefined behaviour (the book's definition).

Two attention-only layers (Figure 4.2): d_head = 3 prefix_len, n_heads = prefix_len + 1,
d_model = d_head + 3, d_ff = 0. Tokens are points of the 3D circle followed by a layer-norm
padding block (Section 4.1). Layer 0: head h attends h tokens back and copies that token into
slot h, head 0 erases the padding and position (proper cleanup), so each position holds its
last prefix_len + 1 tokens. Layer 1: head 0 matches our last prefix_len tokens (slots
0..p-1) against the prefix_len tokens before each position (slots 1..p) and copies the token
there; heads 1 and 2 clean up. Parameters: 123,486 for vocab 1000, prefix 10, block 100
(30,768 non-zero, 769 outside tok_emb; the book: 30,734 and 735) and 4,800 for vocab 10,
prefix 3, block 100 (550 non-zero, 461 outside tok_emb; the book: 535 and 446). Our
closed-form rotations give 8 and 3 more non-zeros than the book's; the fix below adds
2 prefix_len + 6 (26 and 12).

Book bug fixed: at positions j < prefix_len, layer-0 head h > j has no token h back and
attends to position 0 instead, so the book's transformer searches the input as if it were
preceded by copies of its first token: ``[1, 1, 2, 3, 1, 1]`` with prefix_len=2 gives 1, not 2
(the garbage key "1 1" at position 1 ties with the real one at 2). We mark positions
0..prefix_len-1 with another layer-norm padding block (an LN-fixed permutation of it, so
layer 0 is unchanged), which layer-0 head 0 turns into a (1, 1, 1) offset in slot 0: that
offset is orthogonal to every token, but it makes layer 1's layer norm shrink those
positions' slots, so their keys can never tie an exact match. Same shapes and counts.

>>> params = build_search_transformer(vocab_size=10, block_size=100, prefix_len=3)
>>> from taotp import decode
>>> decode([1, 2, 3, 4, 5, 6, 1, 2, 3], params, max_steps=1)[-1]
np.int64(4)
"""
from __future__ import annotations

import numpy as np

from taotp.blocks import HARDER, attend_back, padding_block, pos_enc_3d_array
from taotp.checks import check_int, parse_int
from taotp.model import base_layer, base_params
from taotp.params import check_tokens
from taotp.program import Option, Program, Task

MARK = 1.0  # start-of-input offset; layer 1 shrinks marked slots 10% (prefix_len 2) to 4% (10)


def build_search_transformer(vocab_size: int, block_size: int, prefix_len: int) -> dict:
    """The SEARCH transformer of Figure 4.2 (with the start-of-input fix above)."""
    for name, value in (("vocab_size", vocab_size), ("block_size", block_size),
                        ("prefix_len", prefix_len)):
        check_int(name, value, low=1)
    if prefix_len < 2:
        raise ValueError("prefix_len must be >= 2: the construction's cleanup heads 1 and 2 "
                         "and its layer-norm padding need it (Figure 4.2)")
    if vocab_size < 2:
        raise ValueError("vocab_size must be >= 2")
    if block_size < prefix_len + 1:
        raise ValueError(f"block_size={block_size} is too small for prefix_len={prefix_len}: "
                         f"an input needs at least {prefix_len + 1} tokens")
    d_head = 3 * prefix_len
    n_heads = prefix_len + 1
    d_model = d_head + 3
    pad = padding_block(d_model - 6)
    params = base_params(vocab_size, block_size, d_model)
    params["pos_emb"] = np.pad(pos_enc_3d_array(block_size), ((0, 0), (d_model - 3, 0)))
    # The marker of the first prefix_len positions: the padding block with two entries swapped
    # (still fixed under layer norm); `read` sees it and not the standard block.
    marked = pad.copy()
    marked[[0, 1]] = marked[[1, 0]]
    params["pos_emb"][:prefix_len, 3:d_model - 3] = marked - pad
    read = np.zeros(len(pad))
    read[[1, 2]] = 1.0, -1.0  # read @ pad == 0; read @ marked == -(sqrt(d-1) + 1/sqrt(d-1))
    tok_emb = np.concatenate((pos_enc_3d_array(vocab_size), np.tile(pad, (vocab_size, 1))), -1)
    params["tok_emb"] = params["out_emb"] = np.pad(tok_emb, ((0, 0), (0, 3)))

    # Layer 0: slot h (dims 3h..3h+3) gets the token h back. d_head is larger than needed here
    # (3 would do, but for head 0's proper cleanup of everything after slot 0).
    layer0 = base_layer(n_heads, d_model, 0, d_head)
    for head in range(n_heads):
        attend_back(layer0, head, head, block_size, hardness=HARDER)
        if head == 0:  # erase padding and position; turn the marker into a (1,1,1) offset
            layer0["V"][0, 3:] = np.eye(d_head)
            layer0["P"][0, 3:] = -np.eye(d_head)
            layer0["P"][0, :3, :len(pad)] = MARK / (read @ marked) * read
        else:
            layer0["V"][head, :3, :3] = np.eye(3)
            layer0["P"][head, 3 * head:3 * head + 3, :3] = np.eye(3)

    # Layer 1: query = slots 0..p-1 (our last p tokens), key = slots 1..p (the p tokens
    # before a position), value = slot 0 (that position's token). n_heads is too large here.
    layer1 = base_layer(n_heads, d_model, 0, d_head)
    layer1["Q"][0, :-3] = np.eye(d_head) * HARDER
    layer1["K"][0, 3:] = np.eye(d_head)
    layer1["V"][0, :3, :3] = np.eye(3)
    layer1["P"][0, :3, :3] = np.eye(3)
    # Cleanup: heads 1 and 2 attend to positions like ours (ourselves) and erase slots 0..p-1
    # and slot p (we could scale head 0's P by e.g. 1e7 and drop them).
    layer1["Q"][1, :-3] = np.eye(d_head) * HARDER
    layer1["K"][1, :-3] = np.eye(d_head)
    layer1["V"][1, :-3] = np.eye(d_head)
    layer1["P"][1, :-3] = -np.eye(d_head)
    layer1["Q"][2, -3:, -3:] = np.eye(3) * HARDER
    layer1["K"][2, -3:, -3:] = np.eye(3)
    layer1["V"][2, -3:, -3:] = np.eye(3)
    layer1["P"][2, -3:, -3:] = -np.eye(3)
    params["layers"] = [layer0, layer1]
    return params


def occurrences(tokens, prefix_len: int) -> list[int]:
    """Where the query (the last ``prefix_len`` tokens) ends earlier in ``tokens``."""
    tokens = list(tokens)
    query = tokens[-prefix_len:]
    return [end for end in range(prefix_len - 1, len(tokens) - 1)
            if tokens[end + 1 - prefix_len:end + 1] == query]


def search_reference(tokens, prefix_len: int) -> int:
    """The token after the query's only earlier occurrence; ValueError if it is undefined."""
    tokens = list(tokens)
    if len(tokens) < prefix_len + 1:
        raise ValueError(f"SEARCH needs at least {prefix_len + 1} tokens "
                         f"(prefix_len={prefix_len}), got {len(tokens)}")
    found = occurrences(tokens, prefix_len)
    if len(found) != 1:
        raise ValueError(f"undefined behaviour: the query {tokens[-prefix_len:]} occurs "
                         f"{len(found)} times earlier in the input (SEARCH needs exactly one)")
    return tokens[found[0] + 1]


def sample_search(rng: np.random.Generator, n: int, vocab_size: int, block_size: int,
                  prefix_len: int) -> list[np.ndarray]:
    """``n`` random prompts of random lengths whose query occurs exactly once earlier."""
    prompts = []
    longest = block_size
    while len(prompts) < n:
        for _ in range(100):
            length = int(rng.integers(prefix_len + 1, longest + 1))
            body = rng.integers(0, vocab_size, length - prefix_len)
            # the query copies a window of the body, or (sometimes) overlaps itself
            start = int(rng.integers(0, length - prefix_len))
            prompt = np.concatenate((body, np.zeros(prefix_len, dtype=body.dtype)))
            for i in range(prefix_len):  # one at a time, so a self-overlapping copy works
                prompt[length - prefix_len + i] = prompt[start + i]
            if len(occurrences(prompt, prefix_len)) == 1:
                prompts.append(prompt)
                break
        else:  # long random inputs repeat every short query: try shorter ones
            longest = max(prefix_len + 1, longest // 2)
    return prompts


def adversarial_search(vocab_size: int, block_size: int, prefix_len: int) -> list[np.ndarray]:
    """Nasty prompts: runs of one token at the start (the book's bug), self-overlapping
    occurrences, neighbouring tokens on the circle, the longest input."""
    p, top = prefix_len, vocab_size - 1
    a, b = 0, 1
    near = [top - 1] + [top] * (p - 1) + [a] + [top] * p + [b] + [top] * p  # near-duplicate
    cases = [
        [a] * p + [b] + [a] * p,                    # a^p b a^p -> b (the book gives a)
        [a] * (p + 1),                              # a^(p+1) -> a: overlapping occurrence
        [b] + [a] * p + [b] + [a] * p,              # the run after the start
        [a] * (p - 1) + [b, b] + [a] * (p - 1) + [b],
        near,
        list(range(p)) + [top] + [b] * p + list(range(p)),   # occurrence at the start
    ]
    body = np.resize(np.arange(vocab_size), block_size - p).tolist()
    cases.append(body + body[-p - 1:-1])  # the longest input, occurrence just before
    return [np.array(c) for c in cases
            if p + 1 <= len(c) <= block_size and max(c) < vocab_size and _defined(c, p)]


def _defined(tokens, prefix_len) -> bool:
    return len(occurrences(tokens, prefix_len)) == 1


def make(vocab_size: int = 10, block_size: int = 100, prefix_len: int = 3) -> Task:
    """The registry's SEARCH task; prompts of other dtypes than integers are refused."""
    params = build_search_transformer(vocab_size, block_size, prefix_len)

    def check(prompt) -> np.ndarray:
        if np.asarray(prompt).dtype.kind not in "iu":
            raise ValueError("a SEARCH prompt is a 1-D array of token ids")
        prompt = check_tokens(prompt, vocab_size, block_size)
        search_reference(prompt, prefix_len)  # raises if undefined
        return prompt

    def encode(text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise TypeError(f"input must be a str, not {type(text).__name__}")
        words = text.split()
        if not words:
            raise ValueError("empty input: give space-separated token ids, e.g. '1 2 3 4 1 2'")
        ids = np.array([parse_int(w, "a token id; input must be space-separated integers",
                                   signed=True) for w in words], dtype=np.int64)
        return check(ids)

    return Task(
        params=params, encode=encode, render=lambda ids: " ".join(str(int(i)) for i in ids),
        steps=lambda prompt: 1,
        reference=lambda prompt: np.array([search_reference(check(prompt), prefix_len)]),
        sample=lambda rng, n: sample_search(rng, n, vocab_size, block_size, prefix_len),
        adversarial=lambda: adversarial_search(vocab_size, block_size, prefix_len),
        options=dict(vocab_size=vocab_size, block_size=block_size, prefix_len=prefix_len))


def _book_size(vocab_size=10, block_size=100, prefix_len=3):
    return {(1000, 100, 10): {"n_params": 123_486, "non0": 30_734, "non0_outside_tok_emb": 735},
            (10, 100, 3): {"n_params": 4_800, "non0": 535, "non0_outside_tok_emb": 446},
            }.get((vocab_size, block_size, prefix_len))


PROGRAMS = (
    Program(
        name="search", title="SEARCH", section="Chapter 4",
        summary="Find the last prefix_len tokens earlier in the input and output the token "
                "that followed them (2 attention-only layers).",
        input_format="space-separated token ids; the last prefix_len of them must occur "
                     "exactly once earlier, e.g. '1 2 3 4 5 6 1 2 3' -> '4'",
        build=make,
        options=(Option("vocab_size", int, 10, "vocabulary size", "--vocab-size", low=2,
                        high=10_000, cap=10 ** 6),
                 Option("block_size", int, 100, "longest input", "--block-size", low=3,
                        high=1000, cap=10 ** 5),
                 Option("prefix_len", int, 3, "length of the query (>= 2)", "--prefix-len",
                        low=2, high=10, cap=100)),
        examples=("1 2 3 4 5 6 1 2 3", "7 7 1 2 9 0 3 5 2 9 0", "1 1 1 2 3 1 1 1"),
        book_size=_book_size,
        sizes=({"vocab_size": 1000, "prefix_len": 10},),
    ),
)
