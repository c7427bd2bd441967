"""Denoising quality of the course's engine against the original design (``torch_reference.py``).

Both get the same noisy image (same noise), the paper's denoising settings and the same number
of steps; each runs with several seeds. Prints one line per run and the mean of each.

    python benchmarks/compare_quality.py IMAGE --size 128 --steps 1500 --seeds 0 1 \\
        --torch-python /path/to/venv-with-torch/bin/python

Measuring only: the course never needs PyTorch.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import dip_helpers as dh


def ours(noisy, clean, steps, seed):
    res = dh.fit_dip(noisy, config=dh.DIPConfig(steps=steps, seed=seed), truth=clean, verbose=False)
    h = res.history
    return {
        "psnr_peak": round(float(h["psnr_truth"].max()), 2),
        "peak_step": int(h["psnr_truth"].argmax()) + 1,
        "psnr_last": round(float(h["psnr_truth"][-1]), 2),
        "psnr_ema_last": round(float(h["psnr_ema"][-1]), 2),
        "s_per_step": round(res.seconds / steps, 3),
        "seed": seed,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("image")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--sigma", type=float, default=25)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--torch-python", required=True, help="a Python that has torch")
    a = p.parse_args()
    clean = dh.load_image(a.image, channels=3, size=a.size)
    noisy = dh.add_gaussian_noise(clean, a.sigma, seed=0)
    print(f"{Path(a.image).name} {a.size}x{a.size}, sigma {a.sigma}: noisy input {dh.psnr(noisy, clean):.2f} dB")
    script = Path(__file__).with_name("torch_reference.py")
    rows = {"course (TensorFlow)": [], "original design (PyTorch)": []}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/noisy.npy", noisy), np.save(f"{tmp}/clean.npy", clean)
        for seed in a.seeds:
            rows["course (TensorFlow)"].append(ours(noisy, clean, a.steps, seed))
            out = subprocess.run(
                [
                    a.torch_python,
                    str(script),
                    f"{tmp}/noisy.npy",
                    f"{tmp}/clean.npy",
                    "--steps",
                    str(a.steps),
                    "--seed",
                    str(seed),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            rows["original design (PyTorch)"].append(json.loads(out.stdout.strip().splitlines()[-1]))
            for name, runs in rows.items():
                print(f"  {name:27s} {json.dumps(runs[-1])}", flush=True)
    for name, runs in rows.items():
        mean = {k: round(float(np.mean([r[k] for r in runs])), 2) for k in ("psnr_peak", "psnr_ema_last", "psnr_last")}
        print(f"mean {name:27s} {json.dumps(mean)}")


if __name__ == "__main__":
    sys.exit(main())
