"""Plain vs KV-cached vs batched vs fast decoding on the same prompts (issues 7, 15).

    python bench/decoding.py            # prints a table of seconds and speed-up ratios

Every path must give the same tokens; the script checks that before it reports a time.
"plain" is the book's loop (``decode``, a full forward pass per step), once per prompt;
"cached" is ``decode_cached`` per prompt; "batched" is ``decode_batch``.
"auto" is ``decode_batch(..., fast="auto")``: it builds a ``FastDecoder`` inside the timing
(cold: layer-0 tables, MLPs by sorted kinks, cached steps; the last column says which it
used); "auto warm" decodes the same prompts again on a ``FastDecoder`` kept from a first call.
"FastPath" is ``decode_batch(..., fast=FastPath(params))`` (no cache: a whole-sequence pass
per step), cold (built inside the timing) and warm (kept: its MLP memo already holds these
inputs). Ratios are the book's loop's seconds over each path's. The quick paths are timed 3
times (best kept; a cold run builds everything again each time), the book's loop once.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's taotp
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, timed  # noqa: E402

from taotp import base_layer, base_params, decode, decode_batch, decode_cached  # noqa: E402
from taotp.fastdecode import FastDecoder  # noqa: E402
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
        for count in (32, 1000):
            rng = np.random.default_rng(1)
            prompts = [task.encode(" ".join(map(str, rng.choice(np.arange(1, 28), 20,
                                                                replace=False))))
                       for _ in range(count)]
            yield (f"SORT (book, n=28), {count} prompts of 20 numbers, 20 steps", task.params,
                   prompts, 20)
    if "addition" in PROGRAMS:
        task = PROGRAMS["addition"].make(n_digits=3)
        for count in (32, 1000):
            prompts = task.sample(np.random.default_rng(2), count)
            yield (f"DECIMAL ADDITION (book, 3 digits), {count} prompts, 4 steps", task.params,
                   prompts, 4)


def main():
    import os

    print(header() + f"load average at start: {os.getloadavg()[0]:.2f}\n")
    print(f"{'workload':<62} {'plain s':>8} {'auto s':>7} {'cached x':>9} {'batched x':>10} "
          f"{'FastPath x':>11} {'warm x':>7} {'auto x':>7} {'warm x':>7}  auto decoded on")
    for name, params, prompts, steps in workloads():
        plain, t_plain = timed(lambda: [decode(p, params, max_steps=steps) for p in prompts])
        cached, t_cached = timed(
            lambda: [decode_cached(p, params, max_steps=steps) for p in prompts])
        batched, t_batch = timed(lambda: decode_batch(prompts, params, max_steps=steps),
                                 repeat=3)
        holder = {}

        def cold():
            holder["fast"] = FastPath(params)
            return decode_batch(prompts, params, max_steps=steps, fast=holder["fast"])
        fast, t_fast = timed(cold, repeat=3)
        warm, t_warm = timed(lambda: decode_batch(prompts, params, max_steps=steps,
                                                  fast=holder["fast"]), repeat=3)
        auto, t_auto = timed(lambda: decode_batch(prompts, params, max_steps=steps,
                                                  fast="auto"), repeat=3)
        decoder = FastDecoder(params)
        decode_batch(prompts, params, max_steps=steps, fast=decoder)
        auto_warm, t_auto_warm = timed(lambda: decode_batch(prompts, params, max_steps=steps,
                                                            fast=decoder), repeat=3)
        for a, *others in zip(plain, cached, batched, fast, warm, auto, auto_warm):
            if not all(np.array_equal(a, x) for x in others):
                raise SystemExit(f"{name}: the decoders disagree")
        ratios = [t_plain / t for t in (t_cached, t_batch, t_fast, t_warm, t_auto, t_auto_warm)]
        print(f"{name:<62} {t_plain:8.2f} {t_auto:7.4f} {ratios[0]:9.1f} {ratios[1]:10.1f} "
              f"{ratios[2]:11.1f} {ratios[3]:7.1f} {ratios[4]:7.1f} {ratios[5]:7.1f}  "
              f"{decoder.describe()}")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
