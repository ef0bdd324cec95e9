"""Our params as a Hugging Face ``GPT2LMHeadModel`` with the same logits.

GPT-2 fixes what we leave free: one head count, ``head_dim = n_embd / n_head``, one MLP
width, one layer-norm epsilon. We choose ``head_dim`` = our largest ``d_head`` and enough
heads for ``n_head * head_dim >= d_model``; unused heads, head dimensions and MLP units are
zero (``taotp.export.layout``). The residual stream grows from ``d`` to ``D = n_embd``
dimensions: every vector written to it (token and position embeddings, each head's output
row, MLP output rows and biases) is extended ``w -> [w ; mean(w) ... mean(w)]``, which keeps
the residual's mean and multiplies its variance by exactly ``d / D``; so layer-norm gammas
are scaled by ``sqrt(d / D)`` (zero on the extra dimensions) and the epsilon is
``1e-20 * d / D``. Then every layer norm outputs ours padded with zeros, whatever the
residual holds, and the readers (``Q K V``, ``M1``, ``lm_head``) ignore the extra dimensions.
Biases of ``c_attn`` and the attention ``c_proj`` are zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:  # transformers is an optional dependency
    import transformers

from taotp.export._torch import require, tensor, torch_dtype
from taotp.export.layout import THEIR_EPSILON, extend, layout_of, ln_vectors, padded_layers
from taotp.params import Shape, check_params, is_tied


@dataclass(frozen=True)
class GPT2Shape:
    """GPT-2 needs one head layout and a residual at least as wide as its heads."""
    layout: Shape  # our layers padded to n_head heads of head_dim
    n_embd: int     # D >= d_model

    @property
    def n_inner(self) -> int:
        """GPT-2 has an MLP in every layer: at least one (zero) unit."""
        return max(self.layout.d_ff, 1)  # GPT-2 has an MLP in every layer


def gpt2_shape(params: dict, block_size: int | None = None) -> GPT2Shape:
    """Heads of our widest size, enough of them to cover d_model (GPT-2 ties them)."""
    first = layout_of(params, block_size=block_size)
    head_dim = first.d_head
    n_head = max(first.n_heads, -(-first.d_model // head_dim))
    return GPT2Shape(layout_of(params, n_heads=n_head, d_head=head_dim, block_size=block_size),
                     n_head * head_dim)


def gpt2_config(params: dict, eos: int | None = None, dtype: DTypeLike = "float64",
                block_size: int | None = None) -> transformers.GPT2Config:
    """The ``GPT2Config`` of the export (dropout off, relu, no tokenizer ids unless ``eos``)."""
    transformers = require("transformers")
    shape = gpt2_shape(params, block_size)
    layout = shape.layout
    return transformers.GPT2Config(
        vocab_size=layout.vocab_size, n_positions=layout.block_size, n_embd=shape.n_embd,
        n_layer=layout.n_layers, n_head=layout.n_heads, n_inner=shape.n_inner,
        activation_function="relu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        summary_first_dropout=0.0, layer_norm_epsilon=THEIR_EPSILON * layout.d_model / shape.n_embd,
        scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False,
        reorder_and_upcast_attn=False, tie_word_embeddings=is_tied(params),
        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
        dtype=str(torch_dtype(dtype)).removeprefix("torch."))


def to_gpt2(params: dict, eos: int | None = None, dtype: DTypeLike = "float64",
            block_size: int | None = None) -> transformers.GPT2LMHeadModel:
    """A ``transformers.GPT2LMHeadModel`` whose logits are ``taotp.transformer``'s.

    ``eos`` (the program's end token, if any) is written into the config so that
    ``model.generate`` stops where ``taotp.decode`` does. ``block_size`` keeps only the
    first positions.
    """
    torch = require("torch")
    transformers = require("transformers")
    check_params(params)
    vocab_size = params["tok_emb"].shape[0]
    if eos is not None and (isinstance(eos, bool) or not isinstance(eos, (int, np.integer))
                            or not 0 <= eos < vocab_size):
        raise ValueError(f"eos must be a token id in [0, {vocab_size}) or None, got {eos!r}")
    dtype = torch_dtype(dtype)
    config = gpt2_config(params, eos, dtype, block_size)
    config._attn_implementation = "eager"
    model = transformers.GPT2LMHeadModel(config).to(dtype)
    state = _state_dict(params, gpt2_shape(params, block_size), dtype)
    missing, unexpected = model.load_state_dict(state, strict=False)
    allowed = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - allowed or unexpected:
        raise RuntimeError(f"GPT-2 layout changed: missing {missing}, unexpected {unexpected}")
    # pad == eos (or None): generate then never mistakes a prompt token for padding (a pad id
    # that occurs in the prompt would be masked out of attention).
    model.generation_config = transformers.GenerationConfig(
        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos, do_sample=False)
    return model.eval()


def save_gpt2(params: dict, path: str | Path, eos: int | None = None,
              dtype: DTypeLike = "float64",
              block_size: int | None = None) -> Path:
    """Save the GPT-2 export to the directory ``path`` (safetensors + config.json):
    ``GPT2LMHeadModel.from_pretrained(path)`` loads it, in the dtype it was saved in."""
    path = Path(path)
    to_gpt2(params, eos, dtype, block_size).save_pretrained(str(path))
    return path


def _state_dict(params, shape: GPT2Shape, dtype) -> dict:
    """Conv1D weights are (in, out): ``y = x @ W + b``."""
    torch = require("torch")
    layout, D = shape.layout, shape.n_embd
    d, hk = layout.d_model, layout.n_heads * layout.d_head
    np_dtype = np.dtype(str(dtype).removeprefix("torch."))
    scale = float((d / D) ** 0.5)

    def ln(prefix, ln_params):
        vectors = ln_vectors(ln_params, d, np_dtype)
        gamma, beta = np.zeros(D, np_dtype), np.zeros(D, np_dtype)
        gamma[:d] = vectors["gamma"] * scale if D > d else vectors["gamma"]
        beta[:d] = vectors["beta"]
        return {prefix + ".weight": tensor(gamma, dtype), prefix + ".bias": tensor(beta, dtype)}

    def reads(matrix):  # (d, out) -> (D, out): the extra residual dimensions are not read
        return np.concatenate([matrix, np.zeros((D - d, matrix.shape[1]), np_dtype)])

    state = {"transformer.wte.weight": tensor(extend(params["tok_emb"], D), dtype),
             "transformer.wpe.weight": tensor(extend(params["pos_emb"][:layout.block_size], D), dtype),
             **ln("transformer.ln_f", params["lnf"])}
    if not is_tied(params):
        state["lm_head.weight"] = tensor(extend(params["out_emb"], D), dtype)
    for i, layer in enumerate(padded_layers(params, layout)):
        prefix = f"transformer.h.{i}."
        qkv = [reads(np.einsum("hdk->dhk", layer[key]).reshape(d, hk)) for key in "QKV"]
        state |= {
            **ln(prefix + "ln_1", layer["ln1"]),
            prefix + "attn.c_attn.weight": tensor(np.concatenate(qkv, axis=1), dtype),
            prefix + "attn.c_attn.bias": torch.zeros(3 * D, dtype=dtype),
            prefix + "attn.c_proj.weight": tensor(
                extend(np.einsum("hdk->hkd", layer["P"]).reshape(hk, d), D), dtype),
            prefix + "attn.c_proj.bias": torch.zeros(D, dtype=dtype),
            **ln(prefix + "ln_2", layer["ln2"]),
        }
        width = layer["M1"].shape[1]
        M1, b1, M2 = (np.zeros((d, shape.n_inner), np_dtype), np.zeros(shape.n_inner, np_dtype),
                      np.zeros((shape.n_inner, d), np_dtype))
        M1[:, :width], b1[:width], M2[:width] = layer["M1"], layer["b1"], layer["M2"]
        state |= {
            prefix + "mlp.c_fc.weight": tensor(reads(M1), dtype),
            prefix + "mlp.c_fc.bias": tensor(b1, dtype),
            prefix + "mlp.c_proj.weight": tensor(extend(M2, D), dtype),
            prefix + "mlp.c_proj.bias": tensor(extend(layer["b2"], D), dtype),
        }
    return state
