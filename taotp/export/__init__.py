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

How exact: both libraries divide by ``sqrt(var + eps)`` where we divide by ``std + 1e-10``
(and their softmax has no ``+ 1e-10`` in the denominator). With ``eps = 1e-20`` the logits
agree to about ``1e-10`` of the largest logit at every position whose residual is not nearly
constant; a position whose residual has a spread of ``1e-10`` or so can differ (both layer
norms give 0 on an exactly constant residual). Export in float64 (the default): weights such
as SORT's 1e20 overflow float32 (the variance is 1e40); float32 export is as exact as our own
float32 forward pass, i.e. fine for the programs whose ``Program.float32`` is empty.
Never run TransformerLens' weight processing (``fold_ln``, ``center_writing_weights``,
``center_unembed``, ``fold_value_biases``) on the export: it is not exact for these weights.
"""
from __future__ import annotations

from pathlib import Path

from taotp.export.gpt2 import gpt2_config, save_gpt2, to_gpt2
from taotp.export.run import greedy, logits_of
from taotp.export.lens import (
    load_transformer_lens, save_transformer_lens, save_transformer_lens_model,
    to_transformer_lens,
)

EXPORTERS = ("transformer-lens", "gpt2", "text", "npz")


def export(params, to: str, out, *, eos: int | None = None, dtype="float64") -> Path:
    """Write ``params`` to ``out`` in format ``to`` (one of ``EXPORTERS``); return the path.

    ``transformer-lens`` and ``gpt2`` write directories (see their ``save_`` functions);
    ``text`` writes TAOTP text and ``npz`` a numpy archive (``taotp.textformat``).
    ``eos`` goes into the GPT-2 config so that ``generate`` stops there.
    """
    out = Path(out)
    if to == "transformer-lens":
        return save_transformer_lens(params, out, dtype)
    if to == "gpt2":
        return save_gpt2(params, out, eos, dtype)
    if to == "text":
        from taotp.textformat import to_TAOTP
        out.write_text(to_TAOTP(params))
        return out
    if to == "npz":
        from taotp.textformat import save_npz
        save_npz(params, out)
        return out
    raise ValueError(f"unknown export format {to!r}; valid: {', '.join(EXPORTERS)}")


__all__ = ["EXPORTERS", "export", "gpt2_config", "greedy", "load_transformer_lens", "logits_of",
           "save_gpt2", "save_transformer_lens", "save_transformer_lens_model", "to_gpt2",
           "to_transformer_lens"]
