"""What ``rasp.compile`` returns: the params and how to talk to them (run, stream, report)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from taotp.decoding import KVCache, feed
from taotp.model import transformer
from taotp.params import count_params
from taotp.rasp.evaluate import check_input


@dataclass(frozen=True)
class CompiledProgram:
    """A compiled RASP program: the params and how to talk to them.

    Token ids are ``0`` (BOS, supplied by ``run``), ``1..len(vocab)`` for the inputs, then
    one id per possible output value (``outputs``). ``causal``: the heads are causally
    masked; ``prefix``: because every selector reads only keys at or before its query, so
    the mask changes no answer (the program was compiled with ``causal=False``).
    """
    params: dict
    vocab: tuple
    outputs: tuple
    max_seq_len: int
    causal: bool
    numerical: bool
    recipes: tuple   # (layer, what) lines: which recipe built each head and MLP
    prefix: bool = False

    def ids(self, xs) -> np.ndarray:
        """Token ids for an input, BOS first."""
        xs = check_input(xs, self.vocab)
        if not 1 <= len(xs) <= self.max_seq_len:
            raise ValueError(f"input length {len(xs)} is outside 1..{self.max_seq_len} "
                             f"(max_seq_len)")
        return np.array([0] + [self.vocab.index(x) + 1 for x in xs])

    def run(self, xs) -> list:
        """The program's output on ``xs`` (BOS hidden); numerical outputs as floats."""
        logits = transformer(self.ids(xs), **self.params, causal=self.causal)
        start = 1 + len(self.vocab)
        picks = logits[1:, start:].argmax(axis=-1)
        values = [self.outputs[i] for i in picks]
        return [float(v) for v in values] if self.numerical else values

    def stream(self, xs):
        """Outputs of a causal program, yielded token by token as ``xs`` is read: each token
        is fed once through a key/value cache (``taotp.decoding.feed``), so a step costs one
        position. Output ``i`` is ``run(xs[:i + 1])[-1]``, which equals ``run(xs)[i]``.

        >>> from taotp import rasp
        >>> prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
        >>> running = rasp.numerical(rasp.Aggregate(prevs, rasp.tokens, default=0))
        >>> list(rasp.compile(running, {0, 1}, 4, causal=True).stream([1, 0, 1]))
        [1.0, 0.5, 0.6666666666666666]
        """
        if not self.causal:
            raise ValueError("stream needs a program compiled with causal=True: a "
                             "non-causal program's output at i depends on later tokens")
        cache = KVCache(len(self.params["layers"]))
        feed([0], self.params, cache, 0)  # BOS
        start = 1 + len(self.vocab)
        for i, x in enumerate(xs):
            if i >= self.max_seq_len:
                raise ValueError(f"input length {i + 1} is outside 1..{self.max_seq_len} "
                                 f"(max_seq_len)")
            if x not in self.vocab:
                raise ValueError(f"input position {i}: token {x!r} is not in the vocabulary "
                                 f"{list(self.vocab)}")
            logits = feed([1 + self.vocab.index(x)], self.params, cache, i + 1)[0]
            value = self.outputs[int(logits[start:].argmax())]
            yield float(value) if self.numerical else value

    def report(self) -> str:
        """Layers, heads, widths and parameter counts, then the recipe of each sublayer."""
        layers = self.params["layers"]
        counts = count_params(self.params)
        lines = [f"layers {len(layers)}, d_model {self.params['tok_emb'].shape[1]}, "
                 f"heads per layer {[_heads(layer) for layer in layers]}, "
                 f"d_head max {max((layer['Q'].shape[2] for layer in layers), default=0)}, "
                 f"d_ff max {max((layer['M1'].shape[1] for layer in layers), default=0)}, "
                 f"{'causal' if self.causal else 'bidirectional'} attention"
                 + (" (every selector reads only keys at or before its query)"
                    if self.prefix else ""),
                 f"params {counts['n_params']:,} (non-embedding {counts['non_emb']:,})"]
        lines += [f"  layer {layer}: {what}" for layer, what in self.recipes]
        return "\n".join(lines)


def _heads(layer: dict) -> int:
    """Heads that do something (a layer without attention work holds one zero head)."""
    return int(sum(bool(np.any(q)) for q in layer["Q"]))
