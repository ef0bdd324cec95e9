"""``taotp verify``: check a program against its reference, whole or one shard at a time.

``taotp verify PROGRAM [options] --shard K/N --json out_K.json`` checks the K-th of N
disjoint parts of the inputs (``taotp.shards``) and writes what it found as JSON
(``taotp.reports``); ``taotp verify --merge out_*.json`` combines the N files into one
verdict, refusing files that are not shards 1..N of the same check. ``--backend`` picks the
forward pass (``taotp.verify``): the fast path where it finds structure (the default), the
plain dense pass, or torch (a GPU where there is one).
"""
from __future__ import annotations

DESCRIPTION = ("taotp verify PROGRAM [options] [--exhaustive | --samples N] [--shard K/N] "
               "[--json FILE] [--backend auto|dense|fast|torch]; taotp verify --merge FILE...")


def add_parser(sub, program_parser) -> None:
    """The ``verify`` subcommand; ``program_parser`` makes a command on one program."""
    from taotp.verify import BACKENDS

    p = program_parser(sub, "verify", help="check a program against its reference",
                       description=DESCRIPTION)
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--exhaustive", action="store_true", help="every input of the domain")
    mode.add_argument("--samples", type=int, default=1000,
                      help="seeded random inputs, plus the adversarial ones (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard", metavar="K/N",
                   help="check only the K-th of N disjoint parts of the inputs (one task of "
                        "a job array; --merge combines the N --json files)")
    p.add_argument("--json", metavar="FILE", help="also write the report to FILE as JSON")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="the forward pass: fast (the program's structure), dense (the plain "
                        "batched pass), auto (fast where it finds structure; the default) or "
                        "torch (the dense pass in torch, on a GPU if there is one; needs the "
                        "export extra); the report says which ran")
    p.add_argument("--merge", nargs="+", metavar="FILE",
                   help="combine the --json reports of shards 1..N into one verdict")
    p.set_defaults(handler=verify_command)


def verify_command(args, parsed) -> int:
    """Verify one program (or one shard of it); exit code 1 if any input failed."""
    from constructions.cli import _format_options, _make, _warn_float32
    from taotp.shards import as_shard, params_digest
    from taotp.verify import verify

    if args.merge:
        raise ValueError("--merge takes report files only, not a program and its options")
    shard = as_shard(args.shard)  # refuse a bad K/N before building anything
    program, options, _, unchecked = parsed
    task = _make(program, options, unchecked)
    _warn_float32(args.dtype, program, options)
    report = verify(task, dtype=args.dtype, exhaustive=args.exhaustive, samples=args.samples,
                    seed=args.seed, shard=shard, backend=args.backend)
    print(f"{program.name} {_format_options(options)}")
    print(report.summary())
    for prompt, expected, got in report.failures:
        print(f"  FAIL {task.render(prompt)!r}: expected {task.render(expected)!r}, "
              f"got {task.render(got)!r}")
    if args.json:
        from taotp import reports

        checked = reports.Checked(program.name, options, params_digest(task.params), report)
        print(f"wrote {reports.save(args.json, checked)}")
    return 0 if report.ok else 1


def merge_command(args, rest) -> int:
    """``taotp verify --merge FILES``: one verdict from the shards' JSON reports."""
    from constructions.cli import _format_options
    from taotp import reports

    if args.program is not None or rest:
        extra = " ".join(([args.program] if args.program else []) + list(rest))
        raise ValueError(f"--merge takes report files only; also given: {extra}")
    if args.shard or args.json:
        raise ValueError("--merge combines finished shards: no --shard or --json with it")
    checked = reports.merge_files(args.merge)
    report = checked.report
    print(f"{checked.program} {_format_options(checked.options)} "
          f"(merged {len(args.merge)} shard{'s' if len(args.merge) > 1 else ''}; the time "
          f"is the sum of theirs)")
    print(report.summary())
    for prompt, expected, got in report.failures:
        print(f"  FAIL prompt ids {prompt}: expected {expected}, got {got}")
    return 0 if report.ok else 1
