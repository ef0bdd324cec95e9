"""What a registered program is: how to build it, talk to it, and know the right answer.

The engine knows programs only through these two classes; the programs' package fills its
registry with them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import warnings

import numpy as np

from taotp.checks import Unproven, check_int, check_text


@dataclass(frozen=True)
class Option:
    """A size option of a program: a keyword of its builder and a command-line flag.

    An int option declares where the program is proven exact: ``low..high`` in float64,
    measured (``tests/test_limits.py`` checks it is exact at ``high`` and refused past it);
    ``beyond`` says why values above ``high`` are refused. ``cap`` bounds the work and memory
    a build may take, even when the user asks to go past ``high`` (``unchecked``). For a str
    option ``cap`` bounds its length. A bool option is a switch (``--name`` / ``--no-name``).
    """
    name: str
    type: type
    default: Any
    help: str
    flag: str = ""
    choices: tuple = ()
    low: int | None = None
    high: int | None = None
    beyond: str = "not measured beyond it"
    cap: int | None = None

    @property
    def cli_flag(self) -> str:
        """The command-line flag of this option (``--name`` unless set)."""
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def proven(self) -> str:
        """The proven range as text, e.g. ``1..3``."""
        if self.choices:
            return " or ".join(map(str, self.choices))
        if self.type is bool:
            return "True or False"
        if self.type is str:
            return f"length <= {self.cap:,}" if self.cap else "any"
        low = "" if self.low is None else f"{self.low:,}"
        high = self.high if self.high is not None else self.cap
        return f"{low}..{'' if high is None else f'{high:,}'}"

    def check(self, program: str, value, unchecked: bool = False):
        """``value`` if it is in the proven range; else a ValueError that says the limit and
        why (past ``high`` with ``unchecked``: a warning instead, up to ``cap``)."""
        where = f"{program} {self.name} ({self.cli_flag})"
        if self.type is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{where} must be True or False, not {value!r}")
            value = bool(value)
        elif self.type is str:
            if not isinstance(value, str):
                raise TypeError(f"{where} must be a str, not {type(value).__name__}")
            if self.cap is not None and len(value) > self.cap:
                raise ValueError(f"{where} has {len(value):,} characters; at most {self.cap:,}")
        elif self.type is int:
            value = check_int(where, value, low=self.low)
            past = self.high is not None and value > self.high
            message = (f"{where}={value:,}: {program} is proven exact only up to "
                       f"{self.high:,} in float64 (measured); {self.beyond}") if past else ""
            if past and not unchecked:
                raise ValueError(message + "; pass unchecked=True (--unchecked) to build it "
                                 "anyway")
            if self.cap is not None and value > self.cap:
                raise ValueError(f"{where}={value:,} is past the largest size taotp builds "
                                 f"({self.cap:,}): the work and memory would be unbounded")
            if past:
                warnings.warn(message + "; built anyway (unchecked): answers may be wrong",
                              stacklevel=3)
        if self.choices and value not in self.choices:
            raise ValueError(f"{where} must be one of {', '.join(map(repr, self.choices))}, "
                             f"not {value!r}")
        return value


# How a Task's weights are run (Task.kind).
KINDS = ("decoder", "encoder", "causal-encoder")


def encoder_outputs(params: dict, prompt: np.ndarray, causal: bool) -> np.ndarray:
    """The argmax at positions 1.. of one forward pass over ``prompt`` (an encoder's
    outputs; ``causal`` masks attention to earlier keys)."""
    from taotp.model import transformer

    return np.argmax(transformer(prompt, **params, causal=causal)[1:], axis=-1)


@dataclass(frozen=True)
class Task:
    """A built program: its weights plus everything needed to run and check it.

    ``encode`` turns human input into prompt ids (a ValueError names what is wrong),
    ``render`` turns output ids into text, ``steps`` says how many tokens to decode for a
    prompt, and ``reference`` is the plain-Python ground truth: the output ids a correct
    program emits. ``sample`` draws valid prompts, ``exhaustive`` (when the domain is small)
    yields every one (sized, or indexable, if it can: ``taotp.domains``), ``adversarial``
    lists the nasty ones.

    ``kind`` says how the weights are run (``KINDS``). A ``"decoder"`` (the book's programs)
    decodes greedily, causally masked. An ``"encoder"`` or ``"causal-encoder"`` (compiled
    RASP programs) runs ONE forward pass over the prompt, without or with the causal mask,
    and its output ids are the argmax at prompt positions ``1..len(prompt)-1`` (position 0 is
    BOS), so ``reference`` gives one id per token after BOS and ``steps`` is unused (0). The
    kind belongs to the task, not to the weights: a saved params file does not carry it.
    """
    params: dict
    encode: Callable[[str], np.ndarray]
    render: Callable[[Sequence[int]], str]
    steps: Callable[[np.ndarray], int]
    reference: Callable[[np.ndarray], np.ndarray]
    sample: Callable[[np.random.Generator, int], list]
    exhaustive: Callable[[], Iterable[np.ndarray]] | None = None
    adversarial: Callable[[], list] | None = None
    eos: int | None = None
    options: dict = field(default_factory=dict)
    kind: str = "decoder"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Task kind must be one of {', '.join(KINDS)}, not {self.kind!r}")

    @property
    def encoder(self) -> bool:
        """One forward pass, outputs at positions 1.. (no decoding)."""
        return self.kind != "decoder"

    @property
    def causal(self) -> bool:
        """Whether attention is causally masked (every kind but ``"encoder"``)."""
        return self.kind != "encoder"

    def run(self, text: str, decoder=None) -> str:
        """Decode the program on human input and render the output (an encoder task: its
        one pass, ``decoder`` unused)."""
        from taotp.decoding import decode_cached

        prompt = self.encode(check_text(text))
        if self.encoder:
            return self.render(self.outputs(prompt))
        decoder = decoder or decode_cached
        out = decoder(prompt, self.params, max_steps=self.steps(prompt), eos=self.eos)
        return self.render(out[len(prompt):])

    def outputs(self, prompt: np.ndarray) -> np.ndarray:
        """An encoder task's output ids (``encoder_outputs`` on its params)."""
        if not self.encoder:
            raise ValueError("outputs() is for encoder tasks; decode a decoder one")
        return encoder_outputs(self.params, prompt, self.causal)

    def answer(self, text: str) -> str:
        """The reference answer for human input."""
        return self.render(self.reference(self.encode(check_text(text))))


@dataclass(frozen=True)
class Program:
    """A registry entry: a named, documented, buildable program."""
    name: str
    title: str
    section: str
    summary: str
    input_format: str
    build: Callable[..., Task]
    options: tuple[Option, ...] = ()
    examples: tuple[str, ...] = ()
    # The book's published sizes for these options (keys as count_params, plus
    # "n_params_non0" etc.), or None where the book gives none.
    book_size: Callable[..., dict | None] = lambda **options: None
    # Empty: exact in float32; else why not. A callable takes the options (a program can be
    # exact in float32 at some sizes only).
    float32: str | Callable[..., str] = ""
    # Option sets at which the book publishes sizes (the demo's size table builds each).
    sizes: tuple[dict, ...] = ()

    def float32_note(self, **options) -> str:
        """Why this program is not exact in float32 at these options ("" if it is)."""
        if callable(self.float32):
            return self.float32(**(self.defaults() | options))
        return self.float32

    def defaults(self) -> dict:
        """Every option at its default value."""
        return {o.name: o.default for o in self.options}

    def make(self, unchecked: bool = False, **options) -> Task:
        """Build with defaults filled in; unknown options are an error naming the valid ones,
        and every option must lie in its proven range (``Option.check``) before anything is
        built, unless ``unchecked`` (which warns, and still keeps each option's cap)."""
        unknown = set(options) - {o.name for o in self.options}
        if unknown:
            valid = ", ".join(o.name for o in self.options) or "none"
            raise ValueError(f"{self.name} has no option {', '.join(sorted(unknown))} "
                             f"(valid: {valid})")
        options = self.defaults() | options
        checked = {o.name: o.check(self.name, options[o.name], unchecked)
                   for o in self.options}
        try:
            return self.build(**checked)
        except Unproven as error:  # a build that failed its own certificate
            if not unchecked:
                raise
            warnings.warn(f"{error}; built anyway (unchecked): answers may be wrong",
                          stacklevel=2)
            return error.task
