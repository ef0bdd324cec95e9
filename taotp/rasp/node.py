"""RASP's nodes, part 0: the expression base every node derives from.

A RASP program is a graph of nodes (tracr's names and fields, so a tracr program ports by
changing its import). Every node has a ``label`` that is unique per distinct node without any
global counter: an explicit ``.named(name)``, else the node kind plus a digest of what the node
computes (its children's labels, its function's identity, its parameters, its annotations).
"""
from __future__ import annotations

import copy
import enum
import functools
import hashlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

CATEGORICAL = "categorical"
NUMERICAL = "numerical"


def _token(f: Any) -> str:
    """What identifies a function in a label: its name and, for live objects, its identity."""
    if isinstance(f, enum.Enum):
        return f"{type(f).__name__}.{f.name}"
    return f"{getattr(f, '__qualname__', type(f).__name__)}@{id(f):x}"


@dataclass(frozen=True, eq=False)
class RASPExpr:
    """Base of every node; ``given_label``/``given_annotations`` come from ``named``/``numerical``.

    Hash by label; ``==`` on SOps builds a Map (RASP's sugar), so key dicts by ``node.label``.
    """

    given_label: str | None = field(default=None, kw_only=True, repr=False)
    given_annotations: tuple = field(default=(), kw_only=True, repr=False)

    kind = "expr"
    default_encoding = None  # an SOp's encoding when no annotation gives one (not a field)

    def __post_init__(self) -> None:
        # Labels are computed at construction, children first, so a deep graph never
        # recurses to compute one.
        self.label

    @property
    def children(self) -> tuple:
        """Direct dependencies, in argument order."""
        return ()

    def _params(self) -> tuple:
        """What besides the children defines the node (functions by identity)."""
        return ()

    @property
    def annotations(self) -> Mapping[str, Any]:
        """Read-only annotations; ``encoding`` defaults to categorical for SOps."""
        notes = dict(self.given_annotations)
        if self.default_encoding is not None:
            notes.setdefault("encoding", self.default_encoding)
        return MappingProxyType(notes)

    def content(self) -> tuple:
        """The node's identity as data: kind, parameters, children labels, annotations."""
        return (type(self).__name__, self._params(), tuple(c.label for c in self.children),
                tuple(sorted(self.given_annotations)))

    @functools.cached_property
    def label(self) -> str:
        """Unique per distinct node: the given name, else kind + digest of ``content()``."""
        if self.given_label is not None:
            return self.given_label
        digest = hashlib.sha1(repr(self.content()).encode()).hexdigest()[:8]
        return f"{self.kind}_{digest}"

    def named(self, name: str):
        """A copy carrying ``name`` as its label (the compiler and pictures show it)."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a label must be a non-empty str, got {name!r}")
        return self._copy(given_label=name)

    def annotated(self, **annotations: Any):
        """A copy with extra annotations (same explicit label, if any)."""
        merged = {**dict(self.given_annotations), **annotations}
        return self._copy(given_annotations=tuple(sorted(merged.items())))

    def _copy(self, **changes: Any):
        new = copy.copy(self)
        new.__dict__.pop("label", None)  # the cached label belongs to the original
        for key, value in changes.items():
            object.__setattr__(new, key, value)
        return new

    def __hash__(self) -> int:
        return hash(self.label)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label})"

    def __call__(self, xs, causal: bool = False, vocab=None):
        """Evaluate on one input (``rasp.evaluate``)."""
        from taotp.rasp.evaluate import evaluate
        return evaluate(self, xs, causal=causal, vocab=vocab)

    def input(self, xs, causal: bool = False, vocab=None):
        """RASPy's spelling of ``program(xs)``."""
        return self(xs, causal=causal, vocab=vocab)


def _check_fn(f: Any, owner: str) -> None:
    if not callable(f) or isinstance(f, RASPExpr):
        raise TypeError(f"{owner}: f must be a plain function, got {type(f).__name__}")
