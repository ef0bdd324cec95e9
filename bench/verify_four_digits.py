"""All 10^8 four-digit additions of the book's DECIMAL ADDITION, verified (issue 15).

    python bench/verify_four_digits.py --workers 2 --log /tmp/verify4.log

The domain (pair index ``a * 10^4 + b``) is cut into ``N = 10^8 / --block`` shards
(``verify(..., shard="K/N")``, as ``taotp verify --shard`` does), dealt out to ``--workers``
processes and checked on the fast path (one ``FastPath`` per process, so its MLP memo
carries over from shard to shard). Each shard appends one line to the log (counts, worst
margin, seconds, load average), so a run can be followed while it goes and resumed
(``--resume`` skips the shards the log already holds). At the end the counts of all shards
are summed, and the run passes only if all N shards are there and every pair is correct.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's taotp
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header  # noqa: E402

_LINE = re.compile(r"shard (\d+)/(\d+): (\d+)/(\d+) correct; worst margin ([^;]+);")


def worker(k, shards, log, lock, n_digits):
    from constructions import get_program
    from taotp.fastpath import FastPath
    from taotp.verify import verify

    task = get_program("addition").make(n_digits=n_digits)
    fast = FastPath(task.params)
    for shard in shards:
        report = verify(task, exhaustive=True, shard=shard, backend=fast, progress=False)
        line = (f"worker {k} shard {shard}: {report.n_passed}/{report.n_inputs} "
                f"correct; worst margin {report.worst_margin:.6g}; {report.seconds:.1f} s; "
                f"load average {os.getloadavg()[0]:.2f}; failures {list(report.failures)}")
        with lock, open(log, "a") as f:
            f.write(line + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--block", type=int, default=1_000_000)
    parser.add_argument("--digits", type=int, default=4)
    parser.add_argument("--log", default="verify4.log")
    parser.add_argument("--resume", action="store_true", help="skip shards the log holds")
    args = parser.parse_args()
    size = 10 ** (2 * args.digits)
    n = -(-size // args.block)
    done = set()
    if args.resume and os.path.exists(args.log):
        done = {f"{m[1]}/{m[2]}" for m in map(_LINE.search, open(args.log)) if m}
    else:
        with open(args.log, "w") as f:
            f.write(header() + f"{args.digits}-digit DECIMAL ADDITION, {size:,} pairs, "
                    f"{args.workers} workers, {n} shards of {args.block:,}\n")
    lock = multiprocessing.Lock()
    start = time.perf_counter()
    procs = []
    for k in range(args.workers):
        shards = [f"{j}/{n}" for j in range(k + 1, n + 1, args.workers)]
        procs.append(multiprocessing.Process(target=worker, args=(
            k, [s for s in shards if s not in done], args.log, lock, args.digits)))
        procs[-1].start()
    for p in procs:
        p.join()
    matches = [m for m in map(_LINE.search, open(args.log)) if m]
    shards = {int(m[1]): m for m in matches if int(m[2]) == n}
    passed = sum(int(m[3]) for m in shards.values())
    checked = sum(int(m[4]) for m in shards.values())
    margin = min((float(m[5]) for m in shards.values()), default=float("nan"))
    summary = (f"TOTAL: {passed:,}/{checked:,} correct over {len(shards)} of {n} shards of "
               f"{size:,} pairs; worst margin {margin:.6g}; this run "
               f"{time.perf_counter() - start:.0f} s wall; exit codes "
               f"{[p.exitcode for p in procs]}")
    with open(args.log, "a") as f:
        f.write(summary + "\n")
    print(summary)
    return 0 if passed == checked == size and len(shards) == n else 1


if __name__ == "__main__":
    sys.exit(main())
