"""Compiler stage 2: which layer computes each operation, and where each Var lives.

Sublayers are numbered ``2l`` (attention of layer l) and ``2l + 1`` (its MLP); the
embeddings are sublayer -1. Each operation goes to the earliest sublayer after its inputs
are ready. A head that averages numbers (mean, sum, width) writes them, scaled down, to
scratch dims that its layer's MLP reads, turns into the head's output and erases.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from taotp.rasp.lower import Attend, Embed, Lookup, Var

FLAGS = 2  # dims 0 and 1: [is BOS, is not BOS]; their sum is the constant 1
BOS, NOT_BOS = 0, 1


@dataclass(frozen=True)
class Plan:
    """Where everything goes: ``layer[i]`` for ``ops[i]`` (-1: embedding), Var offsets."""
    ops: tuple
    layer: tuple
    offset: dict
    scratch: dict   # label of a scratch head's output -> its first scratch dim
    n_layers: int
    d_logical: int

    def ops_in(self, layer: int, kind: type) -> list:
        """The operations of ``kind`` placed in ``layer``."""
        return [op for op, l in zip(self.ops, self.layer) if l == layer and isinstance(op, kind)]

    def norm_before(self, sublayer: int) -> float:
        """Squared norm of the residual read by ``sublayer`` (without scratch)."""
        total = 1.0
        for op, l in zip(self.ops, self.layer):
            ready = -1 if self.from_start(op) else _ready(op, l)
            if ready < sublayer and not _direct(op):
                total += op.out.squared_norm
        return total

    @cached_property
    def prefilled(self) -> frozenset:
        """Labels of the one-hots a head or an MLP writes. The embeddings fill their None
        slot at every position and the writer adds the difference (``emit.written``), so
        their slots sum to 1 from the start, as an embedded one-hot's do."""
        return frozenset(op.out.label for op in self.ops
                         if not isinstance(op, Embed) and _one_hot(op.out) and not _direct(op))

    def from_start(self, op) -> bool:
        """``op``'s Var is in the residual from the embeddings on: written by them, or a
        pre-filled one-hot."""
        return isinstance(op, Embed) or op.out.label in self.prefilled

    @cached_property
    def fixed(self) -> np.ndarray:
        """Logical directions every residual is perpendicular to: for each one-hot (embedded
        or pre-filled), its slots minus the two flags (both sum to 1 at every position); for
        an embedded one-hot that is None at BOS alone (the inputs'), its None slot minus the
        BOS flag (the same at every position). ``taotp.circuits.mean_free`` leaves them out
        of the model dimensions."""
        rows = []
        for op in self.ops:
            if _one_hot(op.out) and self.from_start(op):
                row = np.zeros(self.d_logical)
                row[list(self.dims(op.out))] = 1.0
                row[:FLAGS] = -1.0
                rows.append(row)
            if _one_hot(op.out) and _none_at_bos_alone(op):
                row = np.zeros(self.d_logical)
                row[self.offset[op.out.label] + op.out.slot(None)] = 1.0
                row[BOS] = -1.0
                rows.append(row)
        return np.array(rows).reshape(len(rows), self.d_logical)

    @property
    def d_model(self) -> int:
        """The model's width: the logical dims, one for the mean, less the fixed ones."""
        return self.d_logical + 1 - len(self.fixed)

    def dims(self, var: Var) -> range:
        """The residual dimensions of ``var``."""
        return range(self.offset[var.label], self.offset[var.label] + var.width)


def _one_hot(var: Var) -> bool:
    return not (var.numerical or var.circle or var.constant)


def _none_at_bos_alone(op) -> bool:
    """An embedded Var that holds None at the BOS position and nowhere else."""
    if not isinstance(op, Embed) or op.out.bos is not None:
        return False
    if op.table:
        return all(value is not None for _, value in op.table)
    return op.source != "full" or op.fill is not None


def uses_scratch(op) -> bool:
    """Heads whose output is an average of numbers, cleaned up by their layer's MLP."""
    return isinstance(op, Attend) and op.kind != "copy"


def _direct(op) -> bool:
    """A head whose output is never written (the unembedding reads its scratch)."""
    return isinstance(op, Attend) and op.direct


def _ready(op, layer: int) -> int:
    if isinstance(op, Lookup) or uses_scratch(op):
        return 2 * layer + 1
    return 2 * layer


def _inputs(op) -> list:
    if isinstance(op, Lookup):
        return list(op.inputs)
    if isinstance(op, Attend):
        return op.reads()
    return []


def allocate(ops: list, isolate: bool = False) -> Plan:
    """Greedy as-soon-as-possible placement in the given (topological) order.

    ``isolate`` gives each scratch head a layer whose MLP does nothing else, so its cleanup
    can undo the exact layer-norm scale (float32 needs that when values are close)."""
    ready: dict = {}
    layers: list = []
    scratch_count: dict = {}
    mlp_layers: set = set()
    for op in ops:
        after = max((ready[v.label] for v in _inputs(op)), default=-1)
        if isinstance(op, Embed):
            layer = -1
        elif isinstance(op, Lookup):
            layer = (after + 1) // 2  # first MLP sublayer 2l + 1 > after
            while isolate and layer in scratch_count:
                layer += 1
            mlp_layers.add(layer)
        else:
            layer = (after + 2) // 2  # first attention sublayer 2l > after
            while isolate and uses_scratch(op) and (layer in scratch_count
                                                    or layer in mlp_layers):
                layer += 1
            if uses_scratch(op):
                scratch_count[layer] = scratch_count.get(layer, 0) + 1
        layers.append(layer)
        ready[op.out.label] = -1 if layer < 0 else _ready(op, layer)
    offset, scratch, d = {}, {}, FLAGS
    for op in ops:
        offset[op.out.label] = d
        d += 0 if _direct(op) else op.out.width
    for op in ops:
        if uses_scratch(op):
            scratch[op.out.label] = d
            d += len(op.points[0][0])
    return Plan(tuple(ops), tuple(layers), offset, scratch,
                max(layers, default=-1) + 1, d)
