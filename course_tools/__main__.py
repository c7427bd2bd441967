"""Course tooling from the shell: ``python -m course_tools fmt|record|student|slides|book|paper-runs``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_tools", description="Course tooling: notebook form and checks."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_fmt = sub.add_parser("fmt", help="put notebooks in canonical form and re-stamp their buttons")
    p_fmt.add_argument("paths", nargs="*", help="notebooks (default: all in notebooks/)")
    p_fmt.add_argument("--check", action="store_true", help="only report; exit 1 if anything would change")
    p_rec = sub.add_parser("record", help="store the reference output of NBVAL_CHECK_OUTPUT cells")
    p_rec.add_argument("paths", nargs="+")
    p_stu = sub.add_parser("student", help="build the student edition (no solutions)")
    p_stu.add_argument("--out", default="dist/student")
    p_sli = sub.add_parser("slides", help="execute notebooks and write a reveal.js deck for each")
    p_sli.add_argument("paths", nargs="*", help="notebooks (default: all)")
    p_sli.add_argument("--out", default="build/slides")
    p_sli.add_argument("--profile", default="cpu")
    p_sli.add_argument("--reveal-prefix", default=None, help="where the decks load reveal.js from (default: a CDN)")
    p_book = sub.add_parser("book", help="build the rendered course (Sphinx + myst-nb)")
    p_book.add_argument("--out", default="build/book")
    p_book.add_argument("--profile", default="cpu")
    p_runs = sub.add_parser("paper-runs", help="make the precomputed runs with the paper's settings (on a GPU)")
    p_runs.add_argument("--out", required=True, help="a new folder; copy a real (not --toy) run into data/paper_runs/")
    p_runs.add_argument("--toy", action="store_true", help="the same code at toy size, on any machine")
    args = parser.parse_args(argv)

    if args.command == "paper-runs":
        from . import paper_runs

        for make in (paper_runs.denoising_05, paper_runs.figure2_04):
            print(f"{make.__name__}: {make(Path(args.out), args.toy)}")
        return 0

    if args.command in ("student", "slides", "book"):
        from . import editions
        from dip_helpers.profiles import NAMES

        if getattr(args, "profile", "ci") not in NAMES:
            parser.error(f"unknown profile {args.profile!r}; choose one of {', '.join(NAMES)}")
        if args.command == "student":
            print(f"student edition: {editions.build_student(Path(args.out))}")
        elif args.command == "slides":
            decks = editions.build_slides(Path(args.out), args.profile, args.paths or None, args.reveal_prefix)
            print("\n".join(f"slides: {d}" for d in decks))
        else:
            print(f"book: {editions.build_book(Path(args.out), args.profile) / 'index.html'}")
        return 0

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
