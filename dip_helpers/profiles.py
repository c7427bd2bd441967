"""Run-time profiles: one notebook, four sizes.

* ``ci``    -- tiny images and few steps, so every notebook runs in CI in minutes;
* ``cpu``   -- sized for a laptop CPU: each long run takes minutes, effects still show;
* ``gpu``   -- sized for a student's GPU session (a Colab T4): larger images and more steps, so that
  each notebook shows its effects at close to the paper's sizes (times in ``benchmarks/README.md``);
* ``paper`` -- the paper's full settings (512x512, 128 channels, its step counts and learning
  rates), for reproducing its results; never chosen automatically.

The profile is chosen once per process: ``DIP_PROFILE`` if set, else ``ci``
when the ``CI`` variable is set, else ``gpu`` when the Keras backend sees a GPU,
else ``cpu``.  Notebooks read sizes with :meth:`Profile.pick` and check what a run
should show with :meth:`Profile.expect`.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import settings

NAMES = ("ci", "cpu", "gpu", "paper")
_GPU = object()  # pick(): paper defaults to the gpu value


@dataclass(frozen=True)
class Profile:
    """The active profile: its ``name`` and why it was chosen (``reason``)."""

    name: str
    reason: str

    def pick(self, *, ci, cpu, gpu, paper=_GPU):
        """Return the value given for this profile, e.g. ``P.pick(ci=32, cpu=128, gpu=256, paper=512)``
        (``paper`` defaults to the ``gpu`` value)."""
        return {"ci": ci, "cpu": cpu, "gpu": gpu, "paper": gpu if paper is _GPU else paper}[self.name]

    def expect(self, ok: bool, good: str, bad: str) -> bool:
        """Say whether a run shows the effect it should: ``✅ good`` or ``⚠ bad`` (what to try).

        A verdict, not an error, so that "Run all" goes on; with ``DIP_STRICT=1`` in the
        environment (``make test-cpu``) a missing effect raises AssertionError instead.
        """
        print(("✅ " + good) if ok else ("⚠ " + bad))
        if not ok and settings.flag("DIP_STRICT"):
            raise AssertionError(bad)
        return bool(ok)

    def describe(self) -> str:
        """One paragraph saying which profile runs, why, and how to change it; in ``cpu``, which of TensorFlow's
        CPU kernels run here (the notebooks quote a run time for each)."""
        text = (
            f"Profile: {self.name} ({self.reason}).\n"
            f"To change it, set DIP_PROFILE to one of {', '.join(NAMES)} before starting "
            "Jupyter (e.g. `DIP_PROFILE=cpu make lab`), or run "
            "`dip_helpers.set_profile('cpu')` and re-run the notebook."
        )
        kernels = tensorflow_kernels() if self.name == "cpu" else None
        return f"{text}\n{kernels}" if kernels else text

    def __str__(self) -> str:
        return self.name


_forced: str | None = None


def _validate(name: str, source: str) -> str:
    value = name.strip().lower()
    if value not in NAMES:
        raise ValueError(f"{source}={name!r} is not a profile; valid values are: {', '.join(NAMES)}")
    return value


def gpu_available() -> bool:
    """True when the Keras backend (``KERAS_BACKEND``: tensorflow, jax or torch) can see a GPU."""
    from .engine import backend

    return backend.has_gpu()


def tensorflow_kernels() -> str | None:
    """Which of TensorFlow's two CPU kernel sets runs here, in one sentence (None under another backend)."""
    from .engine import backend

    on = backend.onednn_enabled() if backend.name() == "tensorflow" else None
    if on is None:
        return None
    return (
        "TensorFlow runs oneDNN's CPU kernels here: read the notebooks' run times for oneDNN."
        if on
        else "TensorFlow runs its plain CPU kernels here (no oneDNN): read the notebooks' run times for plain kernels."
    )


def get_profile() -> Profile:
    """The active profile (see the module docstring for how it is chosen)."""
    if _forced is not None:
        return Profile(_forced, "set with set_profile()")
    env = settings.get("DIP_PROFILE")
    if env:
        return Profile(_validate(env, "DIP_PROFILE"), "set by DIP_PROFILE")
    if settings.flag("CI"):
        return Profile("ci", "the CI variable is set")
    if gpu_available():
        return Profile("gpu", "a GPU is visible")
    return Profile("cpu", "no GPU found")


def set_profile(name: str | None) -> Profile | None:
    """Force a profile for this process and return it (``None`` returns to the automatic choice)."""
    global _forced
    _forced = None if name is None else _validate(name, "profile")
    return None if name is None else get_profile()
