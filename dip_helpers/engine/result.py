"""What a DIP run leaves, free of Keras: :class:`DIPResult`, and the per-step curves as CSV."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np

#: the stopping rules a run can be stopped by, none of which reads the clean image (:meth:`DIPResult.pick`)
STOP_RULES = ("last", "average", "backtrack", "es-wmv", "sure")


def write_history_csv(history: dict, path) -> Path:
    """Write per-step metrics ``{name: sequence}`` as ``step,<name>...`` rows (step counted from 1)."""
    path, keys = Path(path), sorted(history)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", *keys])
        for i in range(len(history[keys[0]]) if keys else 0):
            w.writerow([i + 1, *(f"{history[k][i]:.6g}" for k in keys)])
    return path


@dataclasses.dataclass
class DIPResult:
    """What a run leaves: images, curves, snapshots, the early-stopping choice and timing."""

    output: np.ndarray
    average: np.ndarray
    history: dict
    snapshots: dict
    es_step: int | None
    es_output: np.ndarray | None
    seconds: float
    config: dict
    notes: list = dataclasses.field(default_factory=list)
    best_step: int | None = None
    best_output: np.ndarray | None = None
    sure_step: int | None = None
    sure_output: np.ndarray | None = None

    def summary(self) -> dict:
        """Headline numbers: last / average / peak PSNR to the truth (if known), ES step, seconds."""
        h = self.history
        out = {"steps": int(len(h.get("loss", []))), "es_step": self.es_step, "seconds": round(self.seconds, 2)}
        if "psnr_truth" in h and len(h["psnr_truth"]):
            t = np.asarray(h["psnr_truth"])
            out.update(psnr_last=float(t[-1]), psnr_peak=float(t.max()), peak_step=int(t.argmax()) + 1)
            if "psnr_ema" in h:
                out["psnr_ema_last"] = float(np.asarray(h["psnr_ema"])[-1])
            if self.es_step is not None:
                out["psnr_es"] = float(t[self.es_step - 1])
            if self.sure_step is not None:
                out["psnr_sure"] = float(t[self.sure_step - 1])
        if self.sure_step is not None:
            out["sure_step"] = self.sure_step
        return out

    def pick(self, rule: str) -> tuple[int, np.ndarray]:
        """The step and the image that a stopping rule of :data:`STOP_RULES` chooses, or ``"oracle"``: the step of the
        best PSNR to the clean image, the reference that needs it. ValueError when this run cannot answer (it says
        which setting the rule needs)."""
        steps = int(len(self.history.get("loss", [])))
        if rule == "last":
            return steps, self.output
        if rule == "average":
            return steps, self.average
        if rule == "backtrack":
            if not self.config.get("backtrack"):
                raise ValueError("this run did not backtrack: fit it with DIPConfig(backtrack=True)")
            return steps, self.output
        if rule == "es-wmv":
            if self.es_step is None:
                raise ValueError(f"ES-WMV needs at least es_window ({self.config.get('es_window')}) steps to pick one")
            return self.es_step, self.es_output
        if rule == "sure":
            if self.sure_step is None:
                raise ValueError("this run has no SURE estimate: fit it with DIPConfig(sure_sigma=noise std / 255)")
            return self.sure_step, self.sure_output
        if rule == "oracle":
            if self.best_step is None:
                raise ValueError("the oracle needs the clean image: fit with truth=...")
            return self.best_step, self.best_output
        raise ValueError(f"rule must be one of {', '.join(STOP_RULES)} or 'oracle', got {rule!r}")

    def to_csv(self, path) -> Path:
        """Write the per-step curves as ``step,<metric>...`` rows (step counted from 1)."""
        return write_history_csv(self.history, path)

    def save(self, path) -> Path:
        """Write the result to one ``.npz`` file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        empty = np.zeros(0)
        arrays = {
            "output": self.output,
            "average": self.average,
            "es_output": self.es_output if self.es_output is not None else empty,
            "best_output": self.best_output if self.best_output is not None else empty,
            "sure_output": self.sure_output if self.sure_output is not None else empty,
        }
        arrays.update({f"history_{k}": np.asarray(v) for k, v in self.history.items()})
        arrays.update({f"snapshot_{k}": v for k, v in self.snapshots.items()})
        meta = {
            "es_step": self.es_step,
            "seconds": self.seconds,
            "config": self.config,
            "notes": self.notes,
            "best_step": self.best_step,
            "sure_step": self.sure_step,
        }
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path) -> "DIPResult":
        """Read a result written by :meth:`save`."""
        with np.load(path) as f:
            meta = json.loads(str(f["meta"]))
            es, best = f["es_output"], f["best_output"]
            sure = f["sure_output"] if "sure_output" in f.files else np.zeros(0)
            return cls(
                output=f["output"],
                average=f["average"],
                history={k[8:]: f[k] for k in f.files if k.startswith("history_")},
                snapshots=dict(sorted((int(k[9:]), f[k]) for k in f.files if k.startswith("snapshot_"))),
                es_step=meta["es_step"],
                es_output=es if es.size else None,
                seconds=meta["seconds"],
                config=meta["config"],
                notes=meta["notes"],
                best_step=meta["best_step"],
                best_output=best if best.size else None,
                sure_step=meta.get("sure_step"),
                sure_output=sure if sure.size else None,
            )
