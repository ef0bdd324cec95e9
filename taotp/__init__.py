"""taotp: The Art of Transformer Programming, made real.

The book's numpy transformer, its decoding, parameter counting and building blocks, under
the book's names. It never names a program: the programs are built on top of it, in a
separate package that imports taotp (never the reverse).
"""
from __future__ import annotations

from taotp.blocks import (
    HARD, HARDER, attend_back, attend_to, build_MLP, messy_cleanup, mlp_with_cleanup,
    padding_block, pos_3d_enc_rotation_matrix, pos_enc_3d, pos_enc_3d_array,
    proper_cleanup,
)
from taotp.decoding import KVCache, decode, decode_batch, decode_cached, forward_batch
from taotp.encodings import (
    balanced_hamming_embedding, distinguishability, hamming_embedding, og_angles, og_embedding,
    random_normal_encoding, random_rotation_embedding, random_sign_encoding,
    reversed_rotation_encoding, rotation_encoding, shift_by_delta, standard_padding_dimension,
    uniform_rotation_embedding,
)
from taotp.model import (
    base_layer, base_params, layer_norm, norm, self_attn, softmax, transformer,
    transformer_layer,
)
from taotp.params import (
    HumanReadableDict, Shape, astype, check_params, count_non0_params, count_params,
    is_tied, shape_of,
)
from taotp.program import Option, Program, Task
from taotp.textformat import compile_TAOTP, load, load_npz, save, save_npz, to_TAOTP
from taotp.trace import Recording, record, trace
from taotp.variants import (
    decode_variant, ones_preserving_orthogonal, rms_norm, scramble_transformer,
    transformer_variant,
)

__version__ = "0.1.0"
