"""The ``taotp`` command: inspect, run, check, draw and export transformer programs.

Programs are reached only through the ``constructions`` registry, imported lazily.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import taotp
from constructions import compile_cli, verify_cli


def main(argv=None) -> int:
    """The ``taotp`` command; returns the exit code (1, with a message, on bad input)."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        if args.command == "verify" and args.merge:
            return verify_cli.merge_command(args, rest)
        if args.command in _PROGRAM_COMMANDS:
            if args.program is None or args.help:
                return _program_help(args, rest)
            return args.handler(args, _program_options(args, rest))
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return args.handler(args)
    except (ValueError, TypeError, OSError, ImportError) as error:
        print(f"taotp {args.command}: error: {error}", file=sys.stderr)
        return 1


def _parser():
    parser = argparse.ArgumentParser(
        prog="taotp", description="The Art of Transformer Programming, made real.")
    parser.add_argument("--version", action="version", version=f"taotp {taotp.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("params", help="print the parameter counts of a saved program")
    p.add_argument("file", help="a .npz or TAOTP text (.taotp/.txt) file")
    p.set_defaults(handler=_params)

    p = sub.add_parser("list", help="list the programs, their options and input formats")
    p.set_defaults(handler=_list)

    p = sub.add_parser("demo", help="build, run and check every program; compare sizes")
    p.set_defaults(handler=_demo)

    p = _program_parser(sub, "run", help="run a program on an input",
                        description="taotp run PROGRAM [options] INPUT (see taotp list)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.set_defaults(handler=_run)

    verify_cli.add_parser(sub, _program_parser)

    p = _program_parser(sub, "trace", help="draw attention, residual stream, MLP and logits")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--step", type=int, default=-1, help="which decode step (default: last)")
    p.add_argument("--mlp-units", default="largest", choices=["largest", "smallest"],
                   help="which active MLP units to draw (smallest: the spike that fires)")
    p.add_argument("--top-k", type=int, default=24, help="how many MLP units to draw")
    p.set_defaults(handler=_trace)

    p = _program_parser(sub, "export",
                        help="export a program to TransformerLens, GPT-2, text or npz")
    p.add_argument("--to", required=True, choices=["transformer-lens", "gpt2", "text", "npz"])
    p.add_argument("--out", required=True)
    p.add_argument("--context", type=int, default=None,
                   help="context length of the exported model (default: the program's "
                        "block_size; TransformerLens needs <= 16,384)")
    p.set_defaults(handler=_export)

    p = sub.add_parser("rasp", help="evaluate a known RASP program (tracr, RASPy blog, paper)",
                       description="taotp rasp PROGRAM INPUT [--draw F.png]; taotp rasp list")
    p.add_argument("program", help="a RASP library name, or 'list'")
    p.add_argument("input", nargs="?", help="characters (hello) or numbers (3,1,2)")
    p.add_argument("--draw", metavar="F.png", help="also draw every value, layer by layer")
    p.set_defaults(handler=_rasp)

    compile_cli.add_parser(sub)

    p = sub.add_parser("figures", help="regenerate the book's figures")
    p.add_argument("--out", default="figures")
    p.add_argument("--quick", action="store_true", help="fewer runs and sizes")
    p.set_defaults(handler=_figures)
    return parser


_PROGRAM_COMMANDS = {"run", "verify", "trace", "export"}


def _program_parser(sub, name, **kwargs):
    """A command on one program: ``-h`` after PROGRAM lists that program's own options."""
    p = sub.add_parser(name, add_help=False, **kwargs)
    p.add_argument("-h", "--help", action="store_true",
                   help="show this help; after PROGRAM, also that program's options")
    p.add_argument("program", nargs="?", help="a program name (see taotp list)")
    p.set_defaults(subparser=p)
    return p


def _program_help(args, rest):
    args.subparser.print_help()
    if args.program is None:
        return 0 if args.help else 2
    print()
    _options_parser(args).print_help()
    return 0


def _program_options(args, rest):
    """Parse the program's own size options (and, for run/trace, its input) from ``rest``."""
    parser = _options_parser(args)
    parsed = parser.parse_args(rest)
    program = parser.program
    options = {o.name: getattr(parsed, o.name) for o in program.options}
    text = " ".join(getattr(parsed, "input", []))
    return program, options, text, parsed.unchecked


def _options_parser(args):
    from constructions import get_program

    program = get_program(args.program)
    parser = argparse.ArgumentParser(prog=f"taotp {args.command} {program.name}",
                                     description=f"{program.title}: {program.summary}")
    for option in program.options:
        kind = dict(action=argparse.BooleanOptionalAction) if option.type is bool else \
            dict(type=option.type, choices=option.choices or None)
        parser.add_argument(option.cli_flag, dest=option.name, default=option.default, **kind,
                            help=f"{option.help} (default {option.default}; proven exact: "
                                 f"{option.proven})")
    parser.add_argument("--unchecked", action="store_true",
                        help="build past the proven range (warns; answers may be wrong)")
    if args.command in ("run", "trace"):
        parser.add_argument("input", nargs="*", help=program.input_format)
    parser.program = program
    return parser


def _params(args):
    from taotp.textformat import load

    params = load(args.file)
    shape = taotp.shape_of(params)
    print(f"{args.file}: {shape.n_layers} layers, {shape.n_heads} heads, d_model "
          f"{shape.d_model}, d_head {shape.d_head}, d_ff {shape.d_ff}, vocab "
          f"{shape.vocab_size}, block {shape.block_size}, {taotp.check_params(params)}")
    print("params:  ", taotp.count_params(params))
    print("non-zero:", taotp.count_non0_params(params))
    return 0


def _list(args):
    from constructions import PROGRAMS

    for program in PROGRAMS.values():
        print(f"{program.name}  ({program.title}, {program.section})")
        print(f"    {program.summary}")
        print(f"    input: {program.input_format}")
        for option in program.options:
            kind = "|".join(option.choices) if option.choices else option.type.__name__.upper()
            flag = f"{option.cli_flag}/--no-{option.cli_flag[2:]}" if option.type is bool \
                else f"{option.cli_flag} {kind}"
            print(f"    {flag}  {option.help} (default {option.default}; "
                  f"proven exact: {option.proven})")
        if program.float32_note():
            print(f"    float32: {program.float32_note()}")
    return 0


def _make(program, options, unchecked):
    """Build, printing the warning of an unchecked build (past the proven range)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = program.make(unchecked=unchecked, **options)
    for warning in caught:
        print(f"taotp: warning: {warning.message}", file=sys.stderr)
    return task


def _warn_float32(dtype, program, options):
    """Say on stderr, before a float32 run or verify, why this program may be inexact there."""
    note = program.float32_note(**options) if dtype == "float32" else ""
    if note:
        print(f"taotp: warning: {program.name} is not expected to be exact in float32 here: "
              f"{note}", file=sys.stderr)


def _run(args, parsed):
    program, options, text, unchecked = parsed
    task = _make(program, options, unchecked)
    _warn_float32(args.dtype, program, options)
    if args.dtype != "float64":
        from dataclasses import replace

        task = replace(task, params=taotp.astype(task.params, args.dtype))
    print(task.run(text))
    return 0


def _trace(args, parsed):
    from taotp.trace import trace

    program, options, text, unchecked = parsed
    figure = trace(_make(program, options, unchecked), text, step=args.step, title=program.title,
                   mlp_units=args.mlp_units, top_k=args.top_k)
    figure.savefig(args.out, dpi=110, bbox_inches="tight")
    print(f"wrote {args.out}")
    return 0


def _export(args, parsed):
    from taotp.export import export

    program, options, _, unchecked = parsed
    task = _make(program, options, unchecked)
    path = export(task.params, to=args.to, out=args.out, eos=task.eos, block_size=args.context,
                  causal=task.causal)
    print(f"wrote {path}")
    return 0


def _figures(args):
    from constructions.figures import render_all

    for path in render_all(args.out, quick=args.quick):
        print(f"wrote {path}")
    return 0


def _demo(args):
    from constructions.demo import demo_table

    table, all_ok = demo_table()
    print(table)
    return 0 if all_ok else 1


def _rasp(args):
    from constructions.rasp_lib import LIBRARY, get_entry
    from taotp import rasp

    if args.program == "list":
        for name, entry in sorted(LIBRARY.items()):
            print(f"{name:24s} {entry.description}")
        return 0
    entry = get_entry(args.program)
    if args.input is None:
        raise ValueError(f"give an input, e.g. taotp rasp {args.program} "
                         f"{''.join(map(str, entry.alphabet[:3]))}")
    program, xs = entry.make(), entry.parse(args.input)
    entry.check(xs)
    print(rasp.evaluate(program, xs))
    layers = rasp.layers(program)
    print(f"{layers.depth} attention layers, heads per layer {list(layers.heads)}")
    if args.draw:
        rasp.draw(program, xs, args.draw)
        print(f"wrote {args.draw}")
    return 0


def _format_options(options):
    return " ".join(f"{k}={v}" for k, v in options.items())


if __name__ == "__main__":
    sys.exit(main())
