"""Run our programs in TransformerLens and Hugging Face GPT-2, with the same logits.

Needs the export extra (``pip install -e ".[export]"``: torch, transformer-lens 4.x,
transformers, safetensors); importing this package does not, calling it does.

* ``to_transformer_lens(params)``: a TransformerLens ``TransformerBridge`` (TL-native, no
  download); ``save_transformer_lens``/``load_transformer_lens`` write and read a directory
  of ``config.json`` + ``model.safetensors``.
* ``to_gpt2(params, eos)``: a ``transformers.GPT2LMHeadModel``; ``save_gpt2`` writes a
  directory that ``GPT2LMHeadModel.from_pretrained`` loads.
* ``greedy(model, prompt, max_steps, eos)``: the book's greedy loop over either export's
  float64 forward (``transformers``' ``generate`` casts logits to float32 first: see
  ``taotp.export.run``); ``logits_of(model, tokens)`` gives numpy logits from either.
* ``export(params, to, out)``: what the CLI calls, ``to`` one of ``EXPORTERS``.

Why it is exact: with ``eps = 1e-20`` the mapping is exact; what remains is that both libraries
divide by ``sqrt(var + eps)`` where we divide by ``std + 1e-10`` (and their softmax has no
``+ 1e-10``), a float-rounding difference at every position that emits a token. README's
"How exact the exports are" has the measurements, the exceptions (SORT at n=28, float32) and
why TransformerLens' weight processing must not be run on an export.
"""
from __future__ import annotations

from pathlib import Path

from numpy.typing import DTypeLike

from taotp.export.gpt2 import gpt2_config, save_gpt2, to_gpt2
from taotp.export.run import greedy, logits_of
from taotp.export.lens import (
    load_transformer_lens, save_transformer_lens, save_transformer_lens_model,
    to_transformer_lens,
)

EXPORTERS = ("transformer-lens", "gpt2", "text", "npz")


def export(params: dict, to: str, out: str | Path, *, eos: int | None = None,
           dtype: DTypeLike = "float64", block_size: int | None = None,
           causal: bool = True) -> Path:
    """Write ``params`` to ``out`` in format ``to`` (one of ``EXPORTERS``); return the path.

    ``transformer-lens`` and ``gpt2`` write directories (see their ``save_`` functions);
    ``text`` writes TAOTP text and ``npz`` a numpy archive (``taotp.textformat``).
    ``eos`` goes into the GPT-2 config so that ``generate`` stops there; ``block_size``
    keeps only the first positions (TransformerLens needs that for contexts past 16,384).
    ``causal=False`` (an encoder program, e.g. compiled RASP) exports to TransformerLens with
    bidirectional attention; GPT-2 is causal only, so it is refused. text and npz hold the
    params alone: the causal flag belongs to the program, not to the file.
    """
    out = Path(out)
    if to not in EXPORTERS:
        raise ValueError(f"unknown export format {to!r}; valid: {', '.join(EXPORTERS)}")
    if to == "gpt2" and not causal:
        raise ValueError("gpt2 export is causal only (GPT2LMHeadModel masks future tokens): "
                         "this program needs bidirectional attention; export it to "
                         "transformer-lens, text or npz")
    if to == "transformer-lens":
        return save_transformer_lens(params, out, dtype, block_size, causal)
    if to == "gpt2":
        return save_gpt2(params, out, eos, dtype, block_size)
    if block_size is not None or dtype != "float64":
        raise ValueError(f"{to} export writes params as they are: no block_size or dtype")
    from taotp.textformat import _kind, save_npz, to_TAOTP
    if _kind(out) != to:  # taotp params and load read the format from the suffix
        raise ValueError(f"{out}: a {to} export needs the suffix "
                         f"{'.npz' if to == 'npz' else '.taotp or .txt'}, which load reads")
    if to == "text":
        out.write_text(to_TAOTP(params))
    else:
        save_npz(params, out)
    return out


__all__ = ["EXPORTERS", "export", "gpt2_config", "greedy", "load_transformer_lens", "logits_of",
           "save_gpt2", "save_transformer_lens", "save_transformer_lens_model", "to_gpt2",
           "to_transformer_lens"]
