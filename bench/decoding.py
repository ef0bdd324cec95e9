"""Plain vs KV-cached vs batched decoding on the same prompts (issue 7, bench a).

    python bench/decoding.py            # prints a table of seconds and speed-up ratios

Every path must give the same tokens; the script checks that before it reports a time.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, timed  # noqa: E402

from taotp import base_layer, base_params, decode, decode_batch, decode_cached  # noqa: E402


def random_model(rng, vocab_size=50, block_size=128, d_model=64, n_layers=4, n_heads=4,
                 d_head=16, d_ff=256):
    params = base_params(vocab_size, block_size, d_model)
    params["tok_emb"] = params["out_emb"] = rng.normal(size=(vocab_size, d_model))
    params["pos_emb"] = rng.normal(size=(block_size, d_model))
    for _ in range(n_layers):
        layer = base_layer(n_heads, d_model, d_ff, d_head)
        for key in ("Q", "K", "V", "P", "M1", "M2"):
            layer[key] = rng.normal(size=layer[key].shape) / np.sqrt(layer[key].shape[-2])
        params["layers"].append(layer)
    return params


def workloads():
    rng = np.random.default_rng(0)
    yield ("random 4-layer d_model 64, 32 prompts x 16 tokens, 64 steps",
           random_model(rng), [rng.integers(0, 50, size=16) for _ in range(32)], 64)
    from constructions import PROGRAMS

    if "sort" in PROGRAMS:
        task = PROGRAMS["sort"].make()
        rng = np.random.default_rng(1)
        prompts = [task.encode(" ".join(map(str, rng.choice(np.arange(1, 28), 20, replace=False))))
                   for _ in range(32)]
        yield ("SORT (book, n=28), 32 prompts of 20 numbers, 20 steps", task.params, prompts, 20)
    if "addition" in PROGRAMS:
        task = PROGRAMS["addition"].make(n_digits=3)
        prompts = task.sample(np.random.default_rng(2), 32)
        yield ("DECIMAL ADDITION (book, 3 digits), 32 prompts, 4 steps", task.params, prompts, 4)


def main():
    print(header())
    print(f"{'workload':<66} {'plain s':>8} {'cached s':>9} {'batched s':>10} "
          f"{'cached x':>9} {'batched x':>10}")
    for name, params, prompts, steps in workloads():
        plain, t_plain = timed(lambda: [decode(p, params, max_steps=steps) for p in prompts])
        cached, t_cached = timed(
            lambda: [decode_cached(p, params, max_steps=steps) for p in prompts])
        batched, t_batch = timed(lambda: decode_batch(prompts, params, max_steps=steps))
        for a, b, c in zip(plain, cached, batched):
            if not (np.array_equal(a, b) and np.array_equal(a, c)):
                raise SystemExit(f"{name}: the decoders disagree")
        print(f"{name:<66} {t_plain:8.2f} {t_cached:9.2f} {t_batch:10.3f} "
              f"{t_plain / t_cached:9.1f} {t_plain / t_batch:10.1f}")


if __name__ == "__main__":
    main()
