"""Course tooling from the shell: ``python -m course_tools fmt|record``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools", description="Course tooling: notebook form and checks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_fmt = sub.add_parser("fmt", help="put notebooks in canonical form and re-stamp their buttons")
    p_fmt.add_argument("paths", nargs="*", help="notebooks (default: all in notebooks/)")
    p_fmt.add_argument("--check", action="store_true", help="only report; exit 1 if anything would change")
    p_rec = sub.add_parser("record", help="store the reference output of NBVAL_CHECK_OUTPUT cells")
    p_rec.add_argument("paths", nargs="+")
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
    return 2


if __name__ == "__main__":
    sys.exit(main())
