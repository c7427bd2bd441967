"""CBM3D beside the course's classical denoisers, on notebook 05's noisy images (sigma 25).

Measures, for each course image and size, the PSNR and the seconds of: the noisy image itself, CBM3D
(``bm3d.bm3d_rgb``; the grey BM3D ``bm3d.bm3d`` for a grey image), non-local means and TV, exactly as
notebook 05 builds its measurement, and writes them as one small JSON table that the course reads
(``dh.classical.cbm3d_reference``):

    PYTHONPATH=/tmp/bm3dlib python benchmarks/cbm3d.py [--sizes 32 128 256 512] [--images astronaut ...] \\
        [--out data/cbm3d_sigma25.json]

Measuring only: the ``bm3d`` package (Tampere University, licence "Free for non-commercial use") is not a
dependency of the course, which is MIT. Install it apart, e.g.
``python -m pip install --target /tmp/bm3dlib bm3d``, and run this script with ``PYTHONPATH=/tmp/bm3dlib``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

import dip_helpers as dh

SIGMA = 25
DEFAULT_SIZES = (32, 128, 256, 512)  # notebook 05's SIZE in the ci, cpu, gpu and paper profiles
LICENCE = "Free for non-commercial use (PyPI classifier)"


def import_bm3d():
    try:
        import bm3d
    except ImportError:
        sys.exit(
            "benchmarks/cbm3d.py needs the bm3d package: pip install bm3d (best into a folder of its own, "
            "pip install --target /tmp/bm3dlib bm3d, then PYTHONPATH=/tmp/bm3dlib). Its licence is "
            '"Free for non-commercial use", which is why the course (MIT) does not depend on it.'
        )
    return bm3d


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def cbm3d(bm3d, noisy):
    """CBM3D on a colour image, the grey BM3D on a grey one; the output in the input's shape (unclipped)."""
    if noisy.shape[-1] == 3:
        out = bm3d.bm3d_rgb(noisy, SIGMA / 255)  # profile "np", colour space "opp": the package's defaults
    else:
        out = bm3d.bm3d(noisy[..., 0], SIGMA / 255)
    return np.asarray(out, np.float64).reshape(noisy.shape)


def measure(bm3d, name: str, size: int) -> tuple[dict, dict, dict]:
    """PSNR and seconds of each method on one image and size, and the range of CBM3D's raw output."""
    x = dh.load_image(name, size=size)
    noisy, t_noisy = timed(dh.add_gaussian_noise, x, SIGMA, seed=0)  # clipped, as notebook 05's
    raw, t_cbm3d = timed(cbm3d, bm3d, noisy)
    out_cbm3d = np.clip(raw, 0, 1)
    out_nlm, t_nlm = timed(dh.classical.nl_means, noisy, SIGMA)
    out_tv, t_tv = timed(dh.classical.tv_denoise, noisy)
    psnr = {
        "noisy": dh.psnr(x, noisy),
        "cbm3d": dh.psnr(x, out_cbm3d),
        "nl_means": dh.psnr(x, out_nlm),
        "tv": dh.psnr(x, out_tv),
    }
    seconds = {"noisy": t_noisy, "cbm3d": t_cbm3d, "nl_means": t_nlm, "tv": t_tv}
    return (
        {k: round(float(v), 2) for k, v in psnr.items()},
        {k: round(float(v), 2) for k, v in seconds.items()},
        {"min": float(raw.min()), "max": float(raw.max())},
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    p.add_argument("--images", nargs="+", default=None, help="course images (default: all of them)")
    p.add_argument("--out", type=Path, default=dh.images.data_dir() / "cbm3d_sigma25.json")
    p.add_argument(
        "--merge",
        action="store_true",
        help="add these entries to the JSON already at --out (its other entries kept) instead of replacing it",
    )
    args = p.parse_args(argv)
    bm3d = import_bm3d()
    names = args.images or dh.available_images()
    command = " ".join(["python benchmarks/cbm3d.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])

    table = {"psnr": {}, "seconds": {}}
    previous_commands, clipped = [], []
    if args.merge and args.out.is_file():
        old = json.loads(args.out.read_text())
        table = {"psnr": old["psnr"], "seconds": old["seconds"]}
        previous_commands = [old["about"]["command"]]
        clipped = list(old["about"]["cbm3d_out_of_range"])
    start = time.perf_counter()
    warm = dh.add_gaussian_noise(dh.load_image(names[0], size=32), SIGMA, seed=0)
    cbm3d(bm3d, warm), cbm3d(bm3d, warm[..., :1])  # one untimed call of each first: imports, FFT plans
    for name in names:
        for size in args.sizes:
            psnr, seconds, span = measure(bm3d, name, size)
            table["psnr"].setdefault(name, {})[str(size)] = psnr
            table["seconds"].setdefault(name, {})[str(size)] = seconds
            if span["min"] < 0 or span["max"] > 1:
                clipped.append(f"{name} {size} ({span['min']:.3f} to {span['max']:.3f})")
            print(
                f"{name:>10} {size:4d}: PSNR noisy {psnr['noisy']:.2f}, CBM3D {psnr['cbm3d']:.2f} "
                f"({seconds['cbm3d']:.2f} s), NL-means {psnr['nl_means']:.2f} ({seconds['nl_means']:.2f} s), "
                f"TV {psnr['tv']:.2f} ({seconds['tv']:.2f} s)",
                flush=True,
            )
    about = {
        "bm3d_version": metadata.version("bm3d"),
        "bm3d_licence": LICENCE,
        "sigma": SIGMA,
        "noise": f"dh.add_gaussian_noise(x, {SIGMA}, seed=0), clipped",
        "image": "dh.load_image(name, size=size), as notebook 05",
        "methods": {
            "noisy": "the noisy image itself",
            "cbm3d": f"bm3d.bm3d_rgb(noisy, {SIGMA} / 255), the package's default profile ('np') and colour space "
            f"('opp'); for a grey image (camera) the grey BM3D, bm3d.bm3d(noisy[..., 0], {SIGMA} / 255)",
            "nl_means": f"dh.classical.nl_means(noisy, {SIGMA})",
            "tv": "dh.classical.tv_denoise(noisy), its default weight 0.08, as notebooks 03 and 06",
        },
        "cbm3d_clipped": "CBM3D's output is clipped to [0, 1] before the PSNR (the other methods' outputs are in "
        "[0, 1] already); cbm3d_out_of_range lists where its raw output went out, with its range",
        "cbm3d_out_of_range": clipped,
        "seconds": "wall-clock seconds of one call each (after one untimed warm-up call of CBM3D and BM3D), "
        "one process at a time on the machine below; on a shared machine they are rough",
        "machine": cpu_model(),
        "date": datetime.date.today().isoformat(),
        "command": " ; then ".join([*previous_commands, command]),
    }
    table["about"] = about
    args.out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
