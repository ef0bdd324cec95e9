"""Compiler stage 2: which layer computes each operation, and where each Var lives.

Sublayers are numbered ``2l`` (attention of layer l) and ``2l + 1`` (its MLP); the
embeddings are sublayer -1. Each operation goes to the earliest sublayer after its inputs
are ready. A head that averages numbers (mean, sum, width) writes them, scaled down, to
scratch dims that its layer's MLP reads, turns into the head's output and erases: the
output's own dims, still empty then, when it is wide enough. A Map of that output alone is
written by the same cleanup (``Plan.folds``): no MLP, no layer of its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from taotp.rasp.lower import Attend, Embed, Lookup, Var

FLAGS = 2  # dims 0 and 1: [is BOS, is not BOS]; their sum is the constant 1


@dataclass(frozen=True)
class Plan:
    """Where everything goes: ``layer[i]`` for ``ops[i]`` (-1: embedding), Var offsets."""
    ops: tuple
    layer: tuple
    offset: dict
    scratch: dict   # label of a scratch head's output -> its first scratch dim
    n_layers: int
    d_logical: int
    folds: dict = field(default_factory=dict)  # scratch head's label -> Maps its cleanup writes

    def folded(self, op) -> bool:
        """A Map written by its input's cleanup (``folds``), so no MLP of its own."""
        return any(op is m for maps in self.folds.values() for m in maps)

    def ops_in(self, layer: int, kind: type) -> list:
        """The operations of ``kind`` placed in ``layer``."""
        return [op for op, l in zip(self.ops, self.layer) if l == layer and isinstance(op, kind)]

    def norm_before(self, sublayer: int) -> float:
        """Squared norm of the residual read by ``sublayer`` (without scratch)."""
        total = 1.0
        for op, l in zip(self.ops, self.layer):
            ready = -1 if isinstance(op, Embed) else _ready(op, l)
            if ready < sublayer:
                total += op.out.squared_norm
        return total

    def dims(self, var: Var) -> range:
        """The residual dimensions of ``var``."""
        return range(self.offset[var.label], self.offset[var.label] + var.width)


def uses_scratch(op) -> bool:
    """Heads whose output is an average of numbers, cleaned up by their layer's MLP."""
    return isinstance(op, Attend) and op.kind != "copy"


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


def allocate(ops: list, isolate: bool = False, fold: bool = True) -> Plan:
    """Greedy as-soon-as-possible placement in the given (topological) order.

    ``isolate`` gives each scratch head a layer whose MLP does nothing else, so its cleanup
    can undo the exact layer-norm scale (float32 needs that when values are close).
    ``fold``: a Map of one scratch head's output is written by that head's cleanup."""
    ready: dict = {}
    layers: list = []
    scratch_count: dict = {}
    mlp_layers: set = set()
    heads: dict = {}  # label -> (scratch head, its layer)
    folds: dict = {}
    for op in ops:
        after = max((ready[v.label] for v in _inputs(op)), default=-1)
        source = _fold(op, heads) if fold else None
        if isinstance(op, Embed):
            layer = -1
        elif source is not None:  # a Map of one scratch head's output: its cleanup writes it
            layer = heads[source.out.label][1]
            folds.setdefault(source.out.label, []).append(op)
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
                heads[op.out.label] = (op, layer)
        layers.append(layer)
        ready[op.out.label] = -1 if layer < 0 else _ready(op, layer)
    offset, scratch, d = {}, {}, FLAGS
    for op in ops:
        offset[op.out.label] = d
        d += op.out.width
    for op in ops:  # the output's own dims are empty until the cleanup writes them
        if uses_scratch(op) and op.out.width >= len(op.points[0][0]):
            scratch[op.out.label] = offset[op.out.label]
        elif uses_scratch(op):
            scratch[op.out.label] = d
            d += len(op.points[0][0])
    return Plan(tuple(ops), tuple(layers), offset, scratch,
                max(layers, default=-1) + 1, d,
                {label: tuple(maps) for label, maps in folds.items()})


def _fold(op, heads: dict):
    """The scratch head whose cleanup can also write ``op``: a table of its output alone
    (the cleanup's points then carry the table's value too, at no extra units)."""
    if isinstance(op, Lookup) and not op.weights and len(op.inputs) == 1:
        found = heads.get(op.inputs[0].label)
        return found[0] if found else None
    return None
