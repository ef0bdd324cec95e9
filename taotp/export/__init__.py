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

How exact (float64, measured with tests/test_export.py and the registry's programs): both
libraries divide by ``sqrt(var + eps)`` where we divide by ``std + 1e-10``, and their softmax
has no ``+ 1e-10``. With ``eps = 1e-20`` the mapping itself is exact: against our forward pass
rewritten with *their* two formulas, both exports agree to 1e-13 of the largest logit on
random weights (float rounding). Against ours: 4e-9 at every position on random weights, and
3e-16..5e-9 at every position that emits an output token in the registry's 16 programs
(LONG ADDITION's 5e-9 is the largest), except SORT at its default n=28 (below). Prompt
positions, whose logits no program uses, can differ a lot: measured up to 2x the largest
logit (SEARCH), 8x (MULTI-DIGIT MOD), 0.5x (ADDITION), 2e-2 (general LOOKUP TABLE). Not
because of a near-zero variance (the residual's std there is 1e-4..1): those positions sit on a
decision boundary of the program, e.g. three keys that tie exactly under an attention
hardness of 1e8, where the layer norms' relative 1e-10 difference (different for each key)
moves the scores by 1e-2 and the 1/3 split to 0.337/0.325/0.338. Even our numpy forward
with their formulas disagrees with the exports there as much; output positions are far
from any boundary.

SORT at n=28 is on float64's last bit: at its hardest step the two best attention scores
(1.2e20) are 2 ulps apart in numpy's rounding and tie in torch's, so that position's logits
differ by 0.7 relative (and whether the greedy outputs still agree depended on torch's
thread count). The margin is 4 ulps at n=27, 16 at 26, 65 at 25; every n <= 27 agreed
to 4e-16 here, and the tests check n=25.
``transformers``' ``generate`` casts logits to float32 before its argmax, which SORT's
1e-15-relative gap between its two best logits does not survive: use ``greedy`` there.

float32: export in float64 (the default). A float32 export does what our own float32 forward
pass does: every registered program whose ``Program.float32`` is empty decoded correctly
(25 inputs each; the tests check 3), i.e. all but SORT (1e20 weights overflow layer norm's
variance: 25 of 25 wrong), MULTI-DIGIT MOD (12-19 of 25 wrong) and the general LOOKUP TABLE
(8-14 of 25 wrong), whose MLP inputs are closer than float32 can tell apart.
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


def export(params, to: str, out, *, eos: int | None = None, dtype="float64",
           block_size: int | None = None) -> Path:
    """Write ``params`` to ``out`` in format ``to`` (one of ``EXPORTERS``); return the path.

    ``transformer-lens`` and ``gpt2`` write directories (see their ``save_`` functions);
    ``text`` writes TAOTP text and ``npz`` a numpy archive (``taotp.textformat``).
    ``eos`` goes into the GPT-2 config so that ``generate`` stops there; ``block_size``
    keeps only the first positions (TransformerLens needs that for contexts past 16,384).
    """
    out = Path(out)
    if to not in EXPORTERS:
        raise ValueError(f"unknown export format {to!r}; valid: {', '.join(EXPORTERS)}")
    if to == "transformer-lens":
        return save_transformer_lens(params, out, dtype, block_size)
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
