"""Plain vs KV-cached vs batched vs fast-path decoding on the same prompts (issues 7, 15).

    python bench/decoding.py            # prints a table of seconds and speed-up ratios

Every path must give the same tokens; the script checks that before it reports a time.
"fast" is ``decode_batch(..., fast=FastPath(params))``, timed with building the FastPath
(cold) and again on the same prompts with the FastPath kept (warm: its MLP memo already
holds these inputs, as when one program decodes many prompts). Ratios are against plain.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's taotp
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, timed  # noqa: E402

from taotp import base_layer, base_params, decode, decode_batch, decode_cached  # noqa: E402
from taotp.fastpath import FastPath  # noqa: E402


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
    import os

    print(header() + f"load average at start: {os.getloadavg()[0]:.2f}\n")
    print(f"{'workload':<62} {'plain s':>8} {'cached s':>9} {'batched s':>10} {'fast s':>7} "
          f"{'warm s':>7} {'cached x':>9} {'batched x':>10} {'fast x':>7} {'warm x':>7}")
    for name, params, prompts, steps in workloads():
        plain, t_plain = timed(lambda: [decode(p, params, max_steps=steps) for p in prompts])
        cached, t_cached = timed(
            lambda: [decode_cached(p, params, max_steps=steps) for p in prompts])
        batched, t_batch = timed(lambda: decode_batch(prompts, params, max_steps=steps))
        holder = {}

        def cold():
            holder["fast"] = FastPath(params)
            return decode_batch(prompts, params, max_steps=steps, fast=holder["fast"])
        fast, t_fast = timed(cold)
        warm, t_warm = timed(lambda: decode_batch(prompts, params, max_steps=steps,
                                                  fast=holder["fast"]), repeat=3)
        for a, b, c, d, e in zip(plain, cached, batched, fast, warm):
            if not all(np.array_equal(a, x) for x in (b, c, d, e)):
                raise SystemExit(f"{name}: the decoders disagree")
        print(f"{name:<62} {t_plain:8.2f} {t_cached:9.2f} {t_batch:10.3f} {t_fast:7.3f} "
              f"{t_warm:7.4f} {t_plain / t_cached:9.1f} {t_plain / t_batch:10.1f} "
              f"{t_plain / t_fast:7.1f} {t_plain / t_warm:7.1f}")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
