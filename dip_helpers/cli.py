"""``python -m dip_helpers denoise|inpaint|superres IMAGE --out DIR``: one DIP run from the shell.

Writes into DIR: ``result.png`` (last output), ``average.png`` (moving average),
``es.png`` (early-stopping pick), ``chosen.png`` (denoise: the output that ``--stop`` chooses,
``DIPResult.pick``; its rule and step are in the summary's ``stop`` and on stderr), ``input.png``
(the measurement, clipped to [0, 1] for the picture), ``metrics.csv``, ``psnr.png`` (marking the
chosen step), ``summary.json`` (``DIPResult.summary()`` with the task, the profile, ``psnr_input``
when the original is known, and notes) and TensorBoard logs in ``tb/`` when TensorFlow or
tensorboardX is installed to write them (without either, a note says they are skipped;
``--tensorboard`` refuses to run without them); prints the summary as one JSON line.
Everything is written to a temporary folder first, so a refused or interrupted run leaves nothing;
if writing fails after the fit, the fitted run is kept as ``result.npz`` (``DIPResult.load``) and
the error says where.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # the engine imports Keras: only once a run starts
    from .engine import DIPConfig
    from .engine.operators import Operator

#: per profile: image side (0 keeps the file's size), steps, channels
DEFAULTS = {"ci": (64, 40, 16), "cpu": (128, 1500, 64), "gpu": (256, 3000, 128), "paper": (512, 3000, 128)}
TASK_DEFAULTS = {
    "denoise": dict(lr=0.01, reg_noise_std=1 / 30),
    "inpaint": dict(lr=0.01, reg_noise_std=0.03),
    "superres": dict(lr=0.01, reg_noise_std=0.03),
}


class _Renamed(argparse.Action):
    """An option's old name: stores its value under the new name's ``dest`` and says on stderr to use that."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"note: {option_string} is deprecated; use {self.new} (the same value)", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_run_arguments(sub) -> None:
    """Add the commands denoise, inpaint and superres, with their options, to the subparsers ``sub``."""
    from .engine.config import PRECISIONS, DIPConfig
    from .engine.result import STOP_RULES

    for task in ("denoise", "inpaint", "superres"):
        p = sub.add_parser(task, help=f"run Deep Image Prior {task} on IMAGE")
        p.add_argument("image", help="a course image name (e.g. astronaut) or a path")
        p.add_argument("--out", required=True, help="folder for the results (must be new or empty, or use --overwrite)")
        p.add_argument("--profile", choices=tuple(DEFAULTS), help="sizes and steps (default: automatic)")
        p.add_argument("--size", type=int, help="resize to SIZE x SIZE first (0: keep the file's size)")
        p.add_argument("--steps", type=int)
        p.add_argument("--channels", type=int, help="channels at every scale (the paper: 128)")
        p.add_argument("--lr", type=float)
        p.add_argument("--reg-noise-std", type=float, help="std of the noise added to z at every step")
        p.add_argument(
            "--reg-noise",
            type=float,
            dest="reg_noise_std",
            action=_Renamed,
            new="--reg-noise-std",
            help=argparse.SUPPRESS,
        )
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--early-stop", action="store_true", help="stop with ES-WMV (no ground truth needed)")
        p.add_argument(
            "--precision",
            default="float32",
            choices=PRECISIONS,
            help="mixed_bfloat16 is faster on CPUs with bf16 units (AMX, AVX512-BF16) and on recent GPUs",
        )
        p.add_argument(
            "--tensorboard",
            action="store_true",
            help="TensorBoard logs in DIR/tb are required: refuse to run without TensorFlow or tensorboardX "
            "(without this option they are written when either is installed)",
        )
        p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
        if task == "denoise":
            p.add_argument(
                "--sigma", type=float, default=25, help="noise std on the 0-255 scale; 0: IMAGE is already noisy"
            )
            p.add_argument(
                "--stop",
                default="last",
                choices=STOP_RULES,
                help="the output chosen.png keeps: the last, the moving average, the authors' backtracking, "
                f"ES-WMV's pick (needs --steps >= {DIPConfig.es_window}) or SURE's (needs --sigma > 0; it runs a "
                "second fit first, so about twice as long)",
            )
        if task == "inpaint":
            p.add_argument("--mask", default="random:0.5", help="a mask file (white = known), random:FRACTION or text")
        if task == "superres":
            p.add_argument("--factor", type=int, default=4, choices=(2, 4, 8))
            p.add_argument(
                "--real", action="store_true", help="IMAGE is low resolution with no original: just upscale it"
            )


def _given(value, default):
    """The option's value when it was given (0 included), else the default."""
    return default if value is None else value


def _fail(message: str) -> int:
    """Print ``error: message`` to stderr; the exit code of a refused run."""
    print(f"error: {message}", file=sys.stderr)
    return 2


class Task(NamedTuple):
    """A run as the options describe it: its settings and what it is fitted to."""

    name: str  # denoise, inpaint or superres
    profile: str
    config: DIPConfig
    operator: Operator
    measurement: np.ndarray
    truth: np.ndarray | None  # the original, where it is known
    baseline: np.ndarray  # the measurement at the truth's size: what psnr_input compares with the truth
    stop: str | None = None  # the rule that picks chosen.png (denoise only)


def read_task(args) -> Task:
    """Read the options and the image into a :class:`Task`; ValueError or FileNotFoundError with a message that says
    what is wrong (an absurd setting, an image or mask that cannot be read)."""
    from . import images, masks, profiles
    from .classical import upscale
    from .engine import DIPConfig, operators

    profile = args.profile or profiles.get_profile().name
    size, steps, channels = DEFAULTS[profile]
    size = _given(args.size, size)
    defaults = TASK_DEFAULTS[args.command]
    stop = args.stop if args.command == "denoise" else None
    if stop == "sure" and args.sigma == 0:  # --sigma 0: the image is noisy already, with a level nobody gave
        raise ValueError("--stop sure needs the noise level: give --sigma (e.g. --sigma 25)")
    # an option given as 0 is an error reported by validate(), never silently the default
    config = DIPConfig(
        steps=_given(args.steps, steps),
        channels=_given(args.channels, channels),
        lr=_given(args.lr, defaults["lr"]),
        reg_noise_std=_given(args.reg_noise_std, defaults["reg_noise_std"]),
        seed=args.seed,
        early_stop=args.early_stop,
        precision=args.precision,
        backtrack=stop == "backtrack",
        # a sigma outside (0, 255] is refused below, by the noise's own check
        sure_sigma=args.sigma / 255 if stop == "sure" and 0 < args.sigma <= 255 else 0.0,
    ).validate()
    if stop == "es-wmv" and config.steps < config.es_window:
        raise ValueError(
            f"--stop es-wmv needs at least {config.es_window} steps (ES-WMV's window): give --steps "
            f"{config.es_window} or more"
        )
    if size < 0:
        raise ValueError("--size must be 0 (keep) or positive")
    original = images.load_image(args.image)  # read once: a mask file is checked against its size
    image = images.resize_image(original, size) if size else original
    truth, op = image, operators.Identity()
    if args.command == "denoise":
        measurement = images.add_gaussian_noise(image, args.sigma, seed=args.seed) if args.sigma else image
        truth = image if args.sigma else None
    elif args.command == "inpaint":
        if args.mask.startswith("random:"):
            mask = masks.random_mask(image.shape, float(args.mask.split(":", 1)[1]), seed=args.seed)
        elif args.mask == "text":
            mask = masks.text_mask(image.shape)
        else:  # a mask made for the file: checked against its size, then cropped and resized as the image was
            mask = masks.load_mask(args.mask, original.shape)
            mask = mask if not size else (images.resize_image(mask, size) > 0.5).astype("float32")
        op = operators.Mask(mask)
        measurement = op.measure(image)
    else:
        op = operators.Downsampler(args.factor)
        if args.real:
            measurement, truth = image, None
        else:
            truth = images.fit_to_multiple(image, args.factor, "crop")
            measurement = op.measure(truth)
    baseline = upscale(measurement, args.factor, "bicubic") if args.command == "superres" else measurement
    return Task(args.command, profile, config, op, measurement, truth, baseline, stop)


def _writes_logs(required: bool) -> bool:
    """Whether the run writes TensorBoard logs: yes when a writer is installed; else a note on stderr, or, when they
    are ``required`` (``--tensorboard``), a ValueError that says what to install."""
    from .engine.tensorboard import INSTALL, writer_kind

    if writer_kind() is not None:
        return True
    if required:
        raise ValueError(
            f"--tensorboard needs TensorFlow or tensorboardX to write the logs and neither is installed: "
            f"{INSTALL}; nothing was run"
        )
    print(
        f"note: skipping the TensorBoard logs, as neither TensorFlow nor tensorboardX is installed; to get them in "
        f"tb/: {INSTALL} (then --tensorboard makes them required)",
        file=sys.stderr,
    )
    return False


def run_task(args) -> int:
    """Run the task the options describe and write its results into ``--out``; return the exit code (2: refused,
    1: writing failed after the fit, 130: interrupted)."""
    try:
        from .engine import fit_dip
        from .engine.memory import RunTooLarge
    except ImportError as exc:  # no usable Keras backend: say what to install
        return _fail(str(exc))

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        return _fail(f"'{out}' already exists and is not empty; choose another --out or add --overwrite")
    try:
        task = read_task(args)
        logs = _writes_logs(args.tensorboard)
    except (ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))

    try:  # where the results go must be writable before the run starts, not after it
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    except OSError as exc:
        return _fail(f"cannot write the results into '{out.parent}' ({exc.strerror or exc}); choose another --out")
    kept = False
    try:
        try:  # before the fit: what can fail, fails now
            notes = _save_measurement(task.measurement, tmp / "input.png")
        except (ValueError, OSError) as exc:
            return _fail(f"cannot write the picture of the measurement ({exc}); nothing was run")
        try:
            result = fit_dip(
                task.measurement, task.operator, task.config, truth=task.truth, log_dir=tmp / "tb" if logs else None
            )
        except RunTooLarge as exc:  # too large for the memory that is free: say so, write nothing
            return _fail(str(exc))
        except KeyboardInterrupt:
            print(f"\ninterrupted: the run was stopped and nothing was written to '{out}'", file=sys.stderr)
            return 130
        try:
            summary = write_results(result, tmp, task, notes)
            _replace(out, tmp)
        except Exception as exc:  # the fit is done: whatever failed, the fitted run is not lost
            where = _keep_the_fit(result, tmp, out)
            kept = where is not None and where.parent == tmp
            said = (
                f"the fitted run is kept in '{where}' (load it with dip_helpers.DIPResult.load)"
                if where
                else "the fitted run could not be saved anywhere either"
            )
            print(
                f"error: writing the results failed after the fit ({type(exc).__name__}: {exc}); {said}",
                file=sys.stderr,
            )
            return 1
    finally:
        if tmp.exists() and not kept:
            shutil.rmtree(tmp, ignore_errors=True)
    if "stop" in summary:
        print(f"chosen: {summary['stop']['rule']} at step {summary['stop']['step']} (chosen.png)", file=sys.stderr)
    print(json.dumps(summary))
    return 0


def _save_measurement(measurement, path: Path) -> list[str]:
    """Save the measurement's picture, clipped to [0, 1]; a note for the summary when clipping changed it."""
    from .images import save_image

    low, high = float(np.min(measurement)), float(np.max(measurement))
    save_image(measurement, path, clip=True)
    if low >= 0 and high <= 1:
        return []
    note = (
        f"input.png is clipped to [0, 1] for the picture: the measurement spans [{low:.3g}, {high:.3g}] (a "
        "Lanczos kernel rings past black and white near sharp edges); the fit used it unclipped"
    )
    print(f"note: {note}", file=sys.stderr)
    return [note]


def write_results(result, folder: Path, task: Task, notes: list) -> dict:
    """Write the output images, the curves, their figure and ``summary.json`` into ``folder``; return the summary:
    ``DIPResult.summary()`` with the task, the profile, ``psnr_input`` when the original is known, the notes and,
    for a task with a stopping rule, ``stop`` (its rule and step) and ``psnr_chosen`` (when the original is known)."""
    from .images import save_image
    from .metrics import psnr

    save_image(result.output, folder / "result.png")
    save_image(result.average, folder / "average.png")
    if result.es_output is not None:
        save_image(result.es_output, folder / "es.png")
    chosen = None
    if task.stop is not None:
        step, image = result.pick(task.stop)
        save_image(image, folder / "chosen.png")
        chosen = (task.stop, int(step))
    result.to_csv(folder / "metrics.csv")
    _plot_curves(result, folder / "psnr.png", chosen)
    summary = {"task": task.name, "profile": task.profile, **result.summary()}
    if task.truth is not None:
        summary["psnr_input"] = psnr(task.truth, task.baseline)
    if chosen is not None:
        summary["stop"] = {"rule": chosen[0], "step": chosen[1]}
        if task.truth is not None:
            summary["psnr_chosen"] = psnr(task.truth, image)
    summary["notes"] = notes + result.notes
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _replace(out: Path, tmp: Path) -> None:
    """Put the finished folder ``tmp`` where ``out`` is (replacing it)."""
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def _keep_the_fit(result, tmp: Path, out: Path) -> Path | None:
    """After writing failed: save the fitted run as ``result.npz`` in ``out`` with what was written, else in the
    temporary folder, else in the system's temporary folder. Returns where it is (None: nowhere)."""
    try:
        result.save(tmp / "result.npz")
    except Exception:  # a full or vanished disk: try elsewhere
        try:
            return result.save(Path(tempfile.gettempdir()) / f"dip-{out.name}-result.npz")
        except Exception:
            return None
    try:
        _replace(out, tmp)
        return out / "result.npz"
    except OSError:
        return tmp / "result.npz"


def _plot_curves(result, path: Path, chosen: tuple[str, int] | None = None) -> None:
    """Draw the PSNR curves into ``path``, marking ES-WMV's pick and the ``chosen`` (rule, step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_psnr_curves

    fig, ax = plt.subplots(figsize=(7, 4))
    plot_psnr_curves(ax, result.history)
    if result.es_step:
        ax.axvline(result.es_step, color="k", ls="--", lw=1, label=f"ES-WMV pick (step {result.es_step})")
    if chosen is not None:
        ax.axvline(chosen[1], color="C3", ls=":", lw=1.5, label=f"chosen: {chosen[0]} (step {chosen[1]})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
