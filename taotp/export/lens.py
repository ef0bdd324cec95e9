"""Our params as a TransformerLens model (transformer-lens 4.x ``TransformerBridge``).

TransformerLens speaks our architecture natively: ``d_head`` independent of ``d_model``,
``act_fn="relu"``, layer norm with gamma and beta, learned positional embeddings, a causal
mask of ``-inf``, untied unembedding. We boot a TL-native model
(``TransformerBridge.boot_native``, no download) with the padded common shape of
``taotp.export.layout`` and load our weights into it: ``W_Q/W_K/W_V[h] = Q/K/V[h]``,
``W_O[h] = P[h].T``, ``W_U = out_emb.T``, all attention and unembedding biases 0,
``eps = 1e-20``. Never run TransformerLens' weight processing on the result (fold_ln,
center_writing_weights, center_unembed, fold_value_biases): with our hand-set weights those
rewrites are no longer exact.

Why transformer-lens 4.x (pinned ==4.3.0) and not 3.x's ``HookedTransformer``: in 3.9 every
``HookedTransformer`` construction warns that it is deprecated and removed in 4.0 (it is);
4.3's bridge gives the same interface a reader of TransformerLens tutorials expects
(``run_with_cache`` with ``blocks.0.attn.hook_pattern`` and friends, ``generate``, ``W_Q``
of shape ``(layer, head, d_model, d_head)``), with the same dependencies as 3.9. The pin is
exact because ``boot_native`` and the bridge's state-dict names are young API.

Saved models are a directory holding ``config.json`` (the config fields we set, plain JSON)
and ``model.safetensors`` (the bridge's state dict): no pickle.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:  # torch is an optional dependency
    import torch

from taotp.export._torch import require, tensor, torch_dtype
from taotp.export.layout import THEIR_EPSILON, layout_of, ln_vectors, padded_layers
from taotp.params import Shape, check_params

FORMAT = "taotp-transformer-lens-bridge"
# TransformerLens' native attention keeps an (n_ctx, n_ctx) causal mask: refuse sizes that
# would not fit (2**28 one-byte entries, 256 MB: block_size 16,384).
MAX_MASK_ENTRIES = 2 ** 28


def transformer_lens_config(layout: Shape, dtype: DTypeLike = "float64",
                            causal: bool = True) -> dict:
    """The ``TransformerBridgeConfig`` fields (JSON-ready) of a layout (``causal=False``:
    TransformerLens' ``attention_dir="bidirectional"``, for encoder programs)."""
    return dict(
        d_model=layout.d_model, d_head=layout.d_head, n_heads=layout.n_heads,
        n_layers=layout.n_layers, n_ctx=layout.block_size, d_vocab=layout.vocab_size,
        d_vocab_out=layout.vocab_size,
        # TL turns d_mlp=0 into 4 * d_model: an empty MLP everywhere is attention-only.
        d_mlp=layout.d_ff or None, attn_only=layout.d_ff == 0,
        act_fn="relu", normalization_type="LN", positional_embedding_type="standard",
        attention_dir="causal" if causal else "bidirectional", eps=THEIR_EPSILON, dtype=str(torch_dtype(dtype)).removeprefix("torch."),
        default_prepend_bos=False, tokenizer_prepends_bos=False, init_weights=False,
        model_name="taotp",
    )


def to_transformer_lens(params: dict, dtype: DTypeLike = "float64",
                        block_size: int | None = None, causal: bool = True) -> torch.nn.Module:
    """A ``TransformerBridge`` computing the same logits as ``taotp.transformer(tokens, **params)``.

    Feed it token ids of shape ``(batch, n)``; it prepends nothing. Keep ``dtype`` float64
    for programs with huge weights (see ``taotp.export``). ``block_size`` keeps only the
    first positions (TransformerLens allocates a ``block_size**2`` mask). ``causal=False``
    gives bidirectional attention, as ``transformer(..., causal=False)``.
    """
    check_params(params)
    layout = layout_of(params, block_size=block_size)
    if layout.block_size ** 2 > MAX_MASK_ENTRIES:
        raise ValueError(
            f"TransformerLens allocates an n_ctx x n_ctx causal mask: block_size="
            f"{layout.block_size:,} would need {layout.block_size ** 2 / 1e9:,.0f} GB; pass "
            f"block_size= the longest sequence you will run (at most {int(MAX_MASK_ENTRIES ** 0.5):,})")
    model = _boot(transformer_lens_config(layout, dtype, causal))
    model.load_state_dict(_state_dict(params, layout, torch_dtype(dtype)), strict=True)
    return model.eval()


def save_transformer_lens(params: dict, path: str | Path, dtype: DTypeLike = "float64",
                          block_size: int | None = None, causal: bool = True) -> Path:
    """Save the TransformerLens export of ``params`` to the directory ``path`` (its config
    keeps ``attention_dir``, so a loaded non-causal export stays bidirectional)."""
    return save_transformer_lens_model(to_transformer_lens(params, dtype, block_size, causal),
                                       path)


def save_transformer_lens_model(model: torch.nn.Module, path: str | Path) -> Path:
    """Save a model made by ``to_transformer_lens`` (weights possibly edited) to ``path``."""
    save_file = require("safetensors.torch").save_file
    config = getattr(model, "_taotp_config", None)
    if config is None:
        raise TypeError("only models made by taotp.export.to_transformer_lens can be saved here")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"format": FORMAT, "config": config}, indent=1))
    state = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    save_file(state, str(path / "model.safetensors"))
    return path


def load_transformer_lens(path: str | Path) -> torch.nn.Module:
    """Load a directory written by ``save_transformer_lens`` (JSON + safetensors, no pickle)."""
    load_file = require("safetensors.torch").load_file
    path = Path(path)
    try:
        saved = json.loads((path / "config.json").read_text())
    except FileNotFoundError:
        raise ValueError(f"{path} has no config.json: not a saved TransformerLens export") from None
    if saved.get("format") != FORMAT:
        raise ValueError(f"{path}/config.json is not a {FORMAT} export")
    model = _boot(saved["config"])
    model.load_state_dict(load_file(str(path / "model.safetensors")), strict=True)
    return model.eval()


def _boot(config: dict):
    """A TL-native bridge with ``config``'s shape (weights uninitialised until loaded)."""
    torch = require("torch")
    bridge = require("transformer_lens.model_bridge")
    config_class = require("transformer_lens.config").TransformerBridgeConfig
    dtype = getattr(torch, config["dtype"])
    model = bridge.TransformerBridge.boot_native(
        config_class(**(config | {"dtype": dtype})), dtype=dtype, device="cpu")
    model._taotp_config = dict(config)
    return model


def _state_dict(params, layout: Shape, dtype) -> dict:
    """Our weights under the bridge's state-dict names (``nn.Linear`` weights are (out, in))."""
    torch = require("torch")
    d, hk = layout.d_model, layout.n_heads * layout.d_head
    np_dtype = np.dtype(str(dtype).removeprefix("torch."))
    lnf = ln_vectors(params["lnf"], d, np_dtype)
    state = {
        "embed.weight": tensor(params["tok_emb"], dtype),
        "pos_embed.weight": tensor(params["pos_emb"][:layout.block_size], dtype),
        "ln_final.weight": tensor(lnf["gamma"], dtype),
        "ln_final.bias": tensor(lnf["beta"], dtype),
        "unembed.weight": tensor(params["out_emb"], dtype),
        "unembed.bias": torch.zeros(layout.vocab_size, dtype=dtype),
    }
    for i, layer in enumerate(padded_layers(params, layout)):
        prefix = f"blocks.{i}."
        for ln in ("ln1", "ln2") if layout.d_ff else ("ln1",):
            state[prefix + ln + ".weight"] = tensor(layer[ln]["gamma"], dtype)
            state[prefix + ln + ".bias"] = tensor(layer[ln]["beta"], dtype)
        for key in "QKV":  # rows of the (h*k, d) linear map are head-major
            state[prefix + f"attn.{key.lower()}.weight"] = tensor(
                np.einsum("hdk->hkd", layer[key]).reshape(hk, d), dtype)
            state[prefix + f"attn.{key.lower()}.bias"] = torch.zeros(hk, dtype=dtype)
        state[prefix + "attn.o.weight"] = tensor(np.einsum("hdk->dhk", layer["P"]).reshape(d, hk), dtype)
        state[prefix + "attn.o.bias"] = torch.zeros(d, dtype=dtype)
        if layout.d_ff:
            state[prefix + "mlp.in.weight"] = tensor(layer["M1"].T, dtype)
            state[prefix + "mlp.in.bias"] = tensor(layer["b1"], dtype)
            state[prefix + "mlp.out.weight"] = tensor(layer["M2"].T, dtype)
            state[prefix + "mlp.out.bias"] = tensor(layer["b2"], dtype)
    return state
