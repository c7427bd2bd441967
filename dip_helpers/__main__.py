"""Command line: ``python -m dip_helpers COMMAND``; ``--help`` lists the commands."""

from __future__ import annotations

import argparse
import sys

from .engine.config import PRECISIONS


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, with its options."""
    parser = argparse.ArgumentParser(prog="python -m dip_helpers", description="Deep Image Prior course helpers.")
    parser.epilog = "The engine runs on the Keras backend named by KERAS_BACKEND: tensorflow (default), jax or torch."
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("profile", help="print the profile that would run here")
    sub.add_parser("settings", help="print the environment variables the course reads, their values and meaning")
    p_machine = sub.add_parser(
        "machine", help="print the CPU, its vector extensions and whether TensorFlow uses oneDNN"
    )
    p_machine.add_argument("--json", action="store_true", help="print one JSON line")
    p_device = sub.add_parser("device", help="print the device the Keras backend computes on (GPU or CPU)")
    p_device.add_argument("--json", action="store_true", help="print one JSON line")
    p_bench = sub.add_parser("bench", help="speed and memory of one training step of the paper's network")
    p_bench.add_argument("--size", type=int, default=256)
    p_bench.add_argument("--channels", type=int, default=128)
    p_bench.add_argument("--steps", type=int, default=10)
    p_bench.add_argument("--xla", action="store_true", help="compile the step with XLA")
    p_bench.add_argument("--precision", default="float32", choices=PRECISIONS)
    p_bench.add_argument(
        "--stock",
        action="store_true",
        help="under TensorFlow, time the stock network and Adam instead of the fast paths",
    )
    p_bench.add_argument(
        "--parts", action="store_true", help="TensorFlow: also the time of each part of the step, by its profiler"
    )
    p_bench.add_argument(
        "--sure",
        action="store_true",
        help="also the cost of SURE: ms per step of a whole fit_dip (building included) with sure_sigma=0.1 and "
        "without, in turns, and their ratio",
    )
    p_bench.add_argument("--json", action="store_true", help="print one JSON line")
    from .cli import add_run_arguments

    add_run_arguments(sub)
    return parser


def main(argv=None) -> int:
    """Run the command ``argv`` names (default: the command line's); return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)

    if args.command in ("denoise", "inpaint", "superres"):
        from .cli import run_task

        return run_task(args)
    if args.command == "bench":
        from .engine.bench import bench

        if not (8 <= args.size <= 8192 and 1 <= args.channels <= 1024 and 1 <= args.steps <= 10000):
            parser.error("bench needs 8 <= --size <= 8192, 1 <= --channels <= 1024, 1 <= --steps <= 10000")
        _report(
            bench(
                args.size, args.channels, args.steps, args.xla, args.precision, not args.stock, args.parts, args.sure
            ),
            args.json,
        )
        return 0
    if args.command == "machine":
        from .engine.machine import summary

        _report(summary(), args.json)
        return 0
    if args.command == "device":
        import dataclasses

        from .engine import backend

        _report({"backend": backend.running(), **dataclasses.asdict(backend.device())}, args.json)
        return 0
    if args.command == "settings":
        from .settings import describe

        print(describe())
        return 0
    if args.command == "profile":
        from .profiles import get_profile

        print(get_profile().describe())
        return 0
    return 2


def _report(values: dict, as_json: bool) -> None:
    """Print ``values`` as one JSON line, or one aligned ``name: value`` line each."""
    import json

    if as_json:
        print(json.dumps(values))
        return
    width = max([18, *map(len, values)])  # a longer name (sure_fit_ms_per_step) widens the column
    for k, v in values.items():
        if isinstance(v, dict):  # a table: one indented line per row
            print(f"{k:>{width}}:")
            for row, cells in v.items():
                print(f"{'':>{width + 2}}{row}: " + ", ".join(f"{c} {x}" for c, x in cells.items()))
            continue
        print(f"{k:>{width}}: {', '.join(v) if isinstance(v, list) else v}")


if __name__ == "__main__":
    sys.exit(main())
