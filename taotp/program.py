"""What a registered program is: how to build it, talk to it, and know the right answer.

The engine knows programs only through these two classes; the programs' package fills its
registry with them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class Option:
    """A size option of a program: a keyword of its builder and a command-line flag."""
    name: str
    type: type
    default: Any
    help: str
    flag: str = ""
    choices: tuple = ()

    @property
    def cli_flag(self) -> str:
        """The command-line flag of this option (``--name`` unless set)."""
        return self.flag or "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Task:
    """A built program: its weights plus everything needed to run and check it.

    ``encode`` turns human input into prompt ids (a ValueError names what is wrong),
    ``render`` turns output ids into text, ``steps`` says how many tokens to decode for a
    prompt, and ``reference`` is the plain-Python ground truth: the output ids a correct
    program emits. ``sample`` draws valid prompts, ``exhaustive`` (when the domain is small)
    yields every one, ``adversarial`` lists the nasty ones.
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

    def run(self, text: str, decoder=None) -> str:
        """Decode the program on human input and render the output."""
        from taotp.decoding import decode_cached

        prompt = self.encode(text)
        decoder = decoder or decode_cached
        out = decoder(prompt, self.params, max_steps=self.steps(prompt), eos=self.eos)
        return self.render(out[len(prompt):])

    def answer(self, text: str) -> str:
        """The reference answer for human input."""
        return self.render(self.reference(self.encode(text)))


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

    def make(self, **options) -> Task:
        """Build with defaults filled in; unknown options are an error naming the valid ones."""
        unknown = set(options) - {o.name for o in self.options}
        if unknown:
            valid = ", ".join(o.name for o in self.options) or "none"
            raise ValueError(f"{self.name} has no option {', '.join(sorted(unknown))} "
                             f"(valid: {valid})")
        return self.build(**(self.defaults() | options))
