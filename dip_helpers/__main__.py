"""Command line: ``python -m dip_helpers COMMAND``; ``--help`` lists the commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dip_helpers", description="Deep Image Prior course helpers.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_fmt = sub.add_parser("fmt", help="put notebooks in canonical form and re-stamp their buttons")
    p_fmt.add_argument("paths", nargs="*", help="notebooks (default: all in notebooks/)")
    p_fmt.add_argument("--check", action="store_true", help="only report; exit 1 if anything would change")
    p_rec = sub.add_parser("record", help="store the reference output of NBVAL_CHECK_OUTPUT cells")
    p_rec.add_argument("paths", nargs="+")
    sub.add_parser("profile", help="print the profile that would run here")
    p_bench = sub.add_parser("bench", help="speed and memory of one training step of the paper's network")
    p_bench.add_argument("--size", type=int, default=256)
    p_bench.add_argument("--channels", type=int, default=128)
    p_bench.add_argument("--steps", type=int, default=10)
    p_bench.add_argument("--xla", action="store_true", help="compile the step with XLA")
    p_bench.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16", "mixed_float16"))
    p_bench.add_argument("--json", action="store_true", help="print one JSON line")
    from .cli import add_run_arguments

    add_run_arguments(sub)
    args = parser.parse_args(argv)

    if args.command == "fmt":
        from .nbtools import fmt, notebook_paths, structure_problems

        paths = [Path(p) for p in args.paths] or notebook_paths()
        changed = fmt(paths, check=args.check)
        problems = [f"{p}: {msg}" for p in paths for msg in structure_problems(p)]
        for line in problems:
            print(line, file=sys.stderr)
        if args.check and changed:
            print("not in canonical form (run `make fmt`): " + ", ".join(changed), file=sys.stderr)
        else:
            print(f"{len(changed)} file(s) {'would change' if args.check else 'rewritten'}")
        return 1 if problems or (args.check and changed) else 0
    if args.command == "record":
        from .nbtools import record_expected

        for p in args.paths:
            print(f"{p}: {record_expected(Path(p))} checked cell(s) recorded")
        return 0
    if args.command in ("denoise", "inpaint", "superres"):
        from .cli import run_task

        return run_task(args)
    if args.command == "bench":
        import json

        from .bench import bench

        if not (8 <= args.size <= 8192 and 1 <= args.channels <= 1024 and 1 <= args.steps <= 10000):
            parser.error("bench needs 8 <= --size <= 8192, 1 <= --channels <= 1024, 1 <= --steps <= 10000")
        r = bench(args.size, args.channels, args.steps, args.xla, args.precision)
        if args.json:
            print(json.dumps(r))
        else:
            for k, v in r.items():
                print(f"{k:>16}: {v}")
        return 0
    if args.command == "profile":
        from .profiles import get_profile

        print(get_profile().describe())
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
