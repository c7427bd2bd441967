"""The GPU check: everything the course needs measured on a GPU, in one call of about 8 minutes.

Two steps (see benchmarks/README.md):

    python benchmarks/gpu_check.py gather --f16 PATH # on the CPU machine: the wheels the GPU machine lacks, and F16
    python benchmarks/gpu_check.py run --out $OUT    # on the GPU machine: install them, then measure

``run`` does, in this order, while its time budget lasts (what is left is listed as skipped):

1. prints the versions and the GPU;
2. ``python -m dip_helpers bench`` at 512x512 (the paper's network) on the fastest backend it has,
   and ``benchmarks/torch_reference.py --bench 512`` on the same GPU;
3. the paper's denoising of F16 (512x512, sigma 25, 3000 steps), wall time with compilation;
4. the precomputed runs with the paper's settings (made by ``course_tools.paper_runs``): notebook 05's
   6000-step denoising, then 04's four Figure-2 fits (``data/paper_runs/``, read by ``dip_helpers.paper_runs``);
5. notebooks 04-08 executed in the ``gpu`` profile with nbclient, each one timed.

It writes at most 8 files under ``--out``: ``report.json``, ``log.txt`` and the paper runs
(``paper_runs/NAME.npz`` + ``.json``). ``--toy`` runs every step at toy size on a CPU (the test suite
does, so that the script cannot rot).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / "benchmarks" / "wheels"
#: what a GPU machine with Python 3.12, JAX, PyTorch, NumPy, matplotlib, scikit-image, Pillow and tifffile lacks,
#: pinned to versions known to run together (Keras 3.15.1 with JAX 0.10 to 0.12)
NEEDED = [
    "keras==3.15.1",
    "absl-py",
    "rich",
    "namex",
    "h5py",
    "optree",
    "tensorboardX",
    "protobuf",
    "ipywidgets",
    "nbclient",
    "nbformat",
    "ipykernel",
]
#: where ``gather --f16`` puts the paper's F16 test image: beside the wheels, it travels with them
F16 = WHEELS / "denoising_F16_GT.png"


def gather(dest: Path = WHEELS, python: str = "3.12", f16: Path | None = None) -> int:
    """Download the wheels of :data:`NEEDED` and their dependencies for Linux x86-64, CPython ``python``; copy the
    F16 test image ``f16`` (from the authors' repository; not the course's, its licence is unclear) beside them."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--python-version",
        python,
        "--platform",
        "manylinux2014_x86_64",
        "--platform",
        "manylinux_2_17_x86_64",
        "--platform",
        "manylinux_2_28_x86_64",
        "-d",
        str(dest),
        *NEEDED,
    ]
    done = subprocess.run(cmd)
    have = {
        "numpy",
        "jax",
        "jaxlib",
        "ml_dtypes",
        "scipy",
        "pillow",
        "matplotlib",
        "opt_einsum",
        "contourpy",
        "cycler",
        "fonttools",
        "kiwisolver",
        "pyparsing",
        "python_dateutil",
        "six",
    }
    for wheel in dest.glob("*.whl"):  # the GPU machine has these: carrying them would only risk a clash
        if wheel.name.split("-")[0].lower() in have:
            wheel.unlink()
    if f16 is not None:
        shutil.copy(f16, dest / F16.name)
    size = sum(w.stat().st_size for w in dest.glob("*.whl")) / 2**20
    print(f"{len(list(dest.glob('*.whl')))} wheels, {size:.1f} MiB in {dest}")
    return done.returncode


class Check:
    """Runs the steps, keeps the report and the log, and watches the time budget."""

    def __init__(self, out: Path, budget: float, toy: bool, install: bool):
        self.out, self.budget, self.toy, self.install, self.start = out, budget, toy, install, time.perf_counter()
        self.report = {"toy": toy, "skipped": [], "failed": {}}
        out.mkdir(parents=True, exist_ok=True)
        self.log = (out / "log.txt").open("w")

    def say(self, *parts):
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.start)

    def step(self, name: str, need: float, fn):
        """Run ``fn`` if about ``need`` seconds are left; keep its result (or its error) in the report."""
        if self.left() < need:
            self.report["skipped"].append(name)
            self.say(f"--- {name}: skipped ({self.left():.0f} s left, about {need:.0f} s needed)")
            return
        self.say(f"--- {name}")
        t = time.perf_counter()
        try:
            self.report[name] = fn()
        except Exception as exc:  # keep going: one failure must not cost the rest of the window
            self.report["failed"][name] = f"{type(exc).__name__}: {exc}"
            self.say(f"{name} failed: {type(exc).__name__}: {exc}")
        self.say(f"{name}: {time.perf_counter() - t:.1f} s")
        self.save()

    def save(self):
        self.report["seconds"] = round(time.perf_counter() - self.start, 1)
        (self.out / "report.json").write_text(json.dumps(self.report, indent=1, default=str))

    def run_json(self, cmd, env=None) -> dict:
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT)
        self.log.write(done.stderr[-4000:])
        if done.returncode:
            raise RuntimeError(
                done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            )
        return json.loads(done.stdout.strip().splitlines()[-1])


def install(check: Check) -> dict:
    """Unpack the carried wheels into a folder of their own, first on the path of this process and of every
    process it starts (not in ``--toy`` mode); the course itself is used from the working tree."""
    if not check.install or not WHEELS.is_dir():
        return {"wheels": "none installed: using what is there"}
    wheels, site = sorted(map(str, WHEELS.glob("*.whl"))), ROOT / "benchmarks" / ".gpu_site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--target", str(site), *wheels],
        check=True,
    )
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), os.environ["PYTHONPATH"]])
    return {"wheels": len(wheels), "into": str(site)}


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "machine": platform.machine()}
    for name in ("keras", "jax", "jaxlib", "torch", "numpy", "tensorflow", "tensorflow-cpu", "nbclient", "ipywidgets"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    try:
        out["nvidia-smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        out["nvidia-smi"] = None
    return out


def fastest_backend() -> str:
    """JAX where it sees a GPU, else PyTorch with CUDA, else TensorFlow, else JAX on the CPU: each installed backend
    asked by the engine (``python -m dip_helpers device``), in a process of its own, until one has a GPU."""
    from dip_helpers.engine.backend import BACKENDS, installed

    present = [name for name in ("jax", "torch", "tensorflow") if installed(BACKENDS[name][0])]
    for name in present[:2]:  # TensorFlow is the CPU fallback either way
        done = subprocess.run([sys.executable, "-m", "dip_helpers", "device", "--json"], capture_output=True,
                              text=True, cwd=ROOT, env={**os.environ, "KERAS_BACKEND": name}, timeout=300)  # fmt: skip
        lines = done.stdout.strip().splitlines()
        if done.returncode == 0 and lines and json.loads(lines[-1]).get("kind") == "GPU":
            return name
    return "tensorflow" if "tensorflow" in present else "jax"


def benchmarks(check: Check, backend: str) -> dict:
    size, steps = (64, 2) if check.toy else (512, 20)
    out = {
        "engine": check.run_json(
            [sys.executable, "-m", "dip_helpers", "bench", "--size", str(size), "--steps", str(steps), "--json"]
            + (["--channels", "8"] if check.toy else []),
            env={"KERAS_BACKEND": backend},
        )
    }
    try:
        import torch  # noqa: F401
    except ImportError:
        out["torch_reference"] = "PyTorch is not installed here"
        return out
    out["torch_reference"] = check.run_json(
        [sys.executable, "benchmarks/torch_reference.py", "--bench", str(size), "--steps", str(3 if check.toy else 50)]
    )
    out["speedup_over_torch"] = round(out["torch_reference"]["ms_per_step"] / out["engine"]["ms_per_step"], 2)
    return out


def load_f16(size: int):
    import dip_helpers as dh

    if F16.is_file():
        return dh.load_image(F16, size=size), F16.name
    return dh.load_image("astronaut", size=size), "astronaut (F16 not found)"


def f16_denoising(check: Check) -> dict:
    import dip_helpers as dh

    size, steps = (32, 6) if check.toy else (512, 3000)
    clean, source = load_f16(size)
    noisy = dh.add_gaussian_noise(clean, 25, seed=0)
    cfg = dh.DIPConfig(steps=steps, **({"channels": 8, "input_channels": 8} if check.toy else {}))
    t = time.perf_counter()
    r = dh.fit_dip(noisy, config=cfg, truth=clean, verbose=False)
    return {
        "image": source,
        "wall_s_with_compilation": round(time.perf_counter() - t, 1),
        "fit_seconds": round(r.seconds, 1),
        "psnr_noisy": round(dh.psnr(clean, noisy), 2),
        **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.summary().items()},
    }


def make_paper_run(name: str, check: Check) -> dict:
    """One of ``course_tools.paper_runs``' runs, into ``OUT/paper_runs`` (imported here: after the install step)."""
    from course_tools import paper_runs

    return getattr(paper_runs, name)(check.out / "paper_runs", check.toy, made_by="benchmarks/gpu_check.py")


def notebooks(check: Check, names) -> dict:
    import nbformat
    from nbclient import NotebookClient

    times = {}
    os.environ["DIP_PROFILE"] = "ci" if check.toy else "gpu"  # the kernels inherit it
    for name in names:
        path = sorted((ROOT / "notebooks").glob(f"{name}_*.ipynb"))[0]
        nb = nbformat.read(path, as_version=4)
        t = time.perf_counter()
        try:
            NotebookClient(
                nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            times[path.name] = round(time.perf_counter() - t, 1)
        except Exception as exc:
            times[path.name] = f"failed after {time.perf_counter() - t:.0f} s: {type(exc).__name__}"
        check.say(path.name, times[path.name])
    return times


def run(out: Path, budget: float, toy: bool, notebook_names, backend: str | None = None, install_wheels=None) -> int:
    check = Check(out, budget, toy, not toy if install_wheels is None else install_wheels)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # kernels too
    sys.path.insert(0, str(ROOT))

    check.step("install", 60, lambda: install(check))
    check.step("versions", 0, versions)
    backend = backend or fastest_backend()
    os.environ["KERAS_BACKEND"] = backend
    check.report["backend"] = backend
    check.say("backend:", backend)
    check.step("bench_512", 60, lambda: benchmarks(check, backend))
    check.step("f16_3000_steps", 45, lambda: f16_denoising(check))
    check.step("paper_run_05", 90, lambda: make_paper_run("denoising_05", check))
    check.step("paper_run_04", 100, lambda: make_paper_run("figure2_04", check))
    check.step("notebooks_gpu_profile", 60 * len(notebook_names), lambda: notebooks(check, notebook_names))
    check.save()
    files = [p for p in out.rglob("*") if p.is_file()]
    check.say(f"done in {check.report['seconds']} s; {len(files)} files in {out}")
    check.log.close()
    return 0 if not check.report["failed"] else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gather", help="download the wheels the GPU machine lacks (run where PyPI is reachable)")
    g.add_argument("--dest", type=Path, default=WHEELS)
    g.add_argument("--f16", type=Path, help="the paper's F16 test image (denoising_F16_GT.png), to carry along")
    r = sub.add_parser("run", help="install the wheels and measure (on the GPU machine)")
    r.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check_out")))
    r.add_argument("--budget", type=float, default=480, help="seconds for all the steps (default 480)")
    r.add_argument("--toy", action="store_true", help="every step at toy size, on any machine")
    r.add_argument("--notebooks", nargs="*", default=["04", "05", "06", "07", "08"])
    r.add_argument("--backend", choices=("jax", "torch", "tensorflow"), help="default: the fastest one here")
    r.add_argument(
        "--install",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="install the carried wheels first (default: yes, except with --toy)",
    )
    a = p.parse_args(argv)
    if a.command == "gather":
        return gather(a.dest, f16=a.f16)
    return run(a.out, a.budget, a.toy, a.notebooks, a.backend, a.install)


if __name__ == "__main__":
    sys.exit(main())
