"""Time the course's default engine against other ways to run the same training step on this CPU.

Each attempt runs in its own process (TensorFlow reads its kernel set and memory pool when it
loads), in turns with the default engine, for ``--rounds`` rounds, and one Markdown table is
printed: ms per step and the fraction of NumPy's matrix product measured in the same process
(``bench``'s ``fraction_of_matmul``; medians over the rounds), and the attempt's time over the
default engine's in the same round (above 1: the default engine is faster). The PyTorch rebuild of the original
design (``torch_reference.py``) is timed the same way; its fraction uses the default engine's
matrix product of the same round.

    python benchmarks/cpu_attempts.py --onednn 0 --rounds 2 [--only default,xla]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = [sys.executable, "-m", "dip_helpers", "bench", "--json"]
#: ``bench`` with TensorFlow's own convolution gradients in the fast twin
STOCK_GRADIENTS = [
    sys.executable,
    "-c",
    "import sys; import dip_helpers; from dip_helpers.engine.backend import tensorflow as b; "
    "b.GRADIENTS_BY_MATMUL = False; from dip_helpers.__main__ import main; sys.exit(main(sys.argv[1:]))",
    "bench",
    "--json",
]
#: name -> (what it changes, extra environment, extra arguments or a whole command)
ATTEMPTS = {
    "default": ("the course's default engine", {}, []),
    "no_pool": ("without TensorFlow's CPU memory pool", {"TF_CPU_ALLOCATOR_USE_BFC": "0"}, []),
    "stock_gradients": (
        "TensorFlow's own convolution gradients",
        {},
        STOCK_GRADIENTS,
    ),
    "before": (
        "neither: the engine before them (2026-12-01)",
        {"TF_CPU_ALLOCATOR_USE_BFC": "0"},
        STOCK_GRADIENTS,
    ),
    "stock_network": ("the stock network and Keras' Adam (`--stock`)", {}, ["--stock"]),
    "xla": ("XLA (`--xla`)", {}, ["--xla"]),
    "bfloat16": ("mixed bfloat16 (`--precision mixed_bfloat16`)", {}, ["--precision", "mixed_bfloat16"]),
    "one_interop_thread": ("one op at a time (`TF_NUM_INTEROP_THREADS=1`)", {"TF_NUM_INTEROP_THREADS": "1"}, []),
    "jax": ("Keras on JAX", {"KERAS_BACKEND": "jax"}, []),
    "torch": ("Keras on PyTorch", {"KERAS_BACKEND": "torch"}, []),
    "torch_reference": (
        "the PyTorch rebuild of the original design",
        {},
        [sys.executable, str(ROOT / "benchmarks" / "torch_reference.py")],
    ),
}


def run(name: str, onednn: str, size: int, steps: int, channels: int = 128) -> dict:
    """One attempt in a fresh process: its ``bench`` (or ``torch_reference.py --bench``) JSON."""
    _, env, extra = ATTEMPTS[name]
    if name == "torch_reference":  # the paper's 128 channels only
        cmd = [*extra, "--bench", str(size), "--steps", str(steps)]
    else:
        sizes = ["--size", str(size), "--steps", str(steps), "--channels", str(channels)]
        cmd = [*extra, *sizes] if extra and extra[0] == sys.executable else [*BENCH, *sizes, *extra]
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--onednn", choices=["0", "1"], required=True, help="TF_ENABLE_ONEDNN_OPTS for every attempt")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--channels", type=int, default=128, help="channels per scale (torch_reference: 128 only)")
    p.add_argument("--only", default="", help="comma-separated attempts (default: all)")
    a = p.parse_args(argv)
    names = [n for n in (a.only.split(",") if a.only else ATTEMPTS) if n != "default"]
    unknown = [n for n in names if n not in ATTEMPTS]
    if unknown:
        p.error(f"unknown attempts {unknown}; known: {', '.join(ATTEMPTS)}")
    if "torch_reference" in names and a.channels != 128:
        p.error("torch_reference builds the paper's network: 128 channels only")
    rows = {n: [] for n in ["default", *names]}
    for r in range(a.rounds):
        for name in names:
            base = run("default", a.onednn, a.size, a.steps, a.channels)
            other = run(name, a.onednn, a.size, a.steps, a.channels)
            if name == "torch_reference":  # no product of its own: the engine's, measured just before
                gflops = base["gflop_per_step"] / other["ms_per_step"] * 1e3
                other["fraction_of_matmul"] = gflops / base["matmul_gflops"]
            other["ratio_to_default"] = other["ms_per_step"] / base["ms_per_step"]
            rows["default"].append(base)
            rows[name].append(other)
            print(f"round {r + 1} {name}: {other['ms_per_step']} ms, default {base['ms_per_step']} ms", flush=True)
    first = rows["default"][0]
    print(f"\n{first['cpu']} ({', '.join(first['cpu_features'])}), oneDNN {'on' if a.onednn == '1' else 'off'}")
    print("\n| attempt | ms / step | fraction of the matrix product | its time over the default engine's, same round |")
    print("| --- | --- | --- | --- |")
    for name, runs in rows.items():
        ms = [x["ms_per_step"] for x in runs]
        frac = [x["fraction_of_matmul"] for x in runs if "fraction_of_matmul" in x]
        ratio = [x["ratio_to_default"] for x in runs if "ratio_to_default" in x]
        cells = [
            f"{min(ms):.0f}–{max(ms):.0f}" if len(ms) > 1 else f"{ms[0]:.0f}",
            f"{np.median(frac):.2f}" if frac else "",
            f"{np.median(ratio):.2f}" if ratio else "1",
        ]
        print(f"| {ATTEMPTS[name][0]} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
