"""Settings of a DIP run, free of Keras: :class:`DIPConfig` and the choices it accepts."""

from __future__ import annotations

import dataclasses
import json

#: the compute precisions a run may use (Keras dtype policies)
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

MAX_STEPS = 1_000_000  # far beyond any useful run: a larger number is a typo


@dataclasses.dataclass
class DIPConfig:
    """Everything that defines a DIP run (the paper's denoising settings by default)."""

    steps: int = 3000
    lr: float = 0.01
    reg_noise_std: float = 1 / 30
    input_channels: int = 32
    input_kind: str = "noise"
    channels: int = 128
    skip_channels: int = 4
    scales: int = 5
    upsample: str = "bilinear"
    pad: str = "reflection"
    seed: int = 0
    ema: float = 0.99
    es_window: int = 100
    es_patience: int = 1000
    early_stop: bool = False
    snapshot_every: int = 100
    jit_compile: bool = False
    precision: str = "float32"
    divergence_guard: bool = True  # DivergenceGuard: undo a blow-up (a NaN, or a 5 dB drop) and halve the rate
    backtrack: bool = False  # the authors' backtracking: a step whose PSNR to y fell 5 dB gets the previous weights
    sure_sigma: float = 0.0  # > 0: estimate the MSE of every step by SURE, for Gaussian noise of this std ([0, 1])
    sure_delta: float = 0.03  # SURE's finite-difference step: the second fit is on y + sure_delta * b
    fast: bool = True  # the backend's fast twin of the network and optimiser, where it has one (TensorFlow)

    def validate(self) -> "DIPConfig":
        """Raise ValueError with a readable message for absurd values; return self."""
        checks = [
            (self.steps >= 1, "steps must be at least 1"),
            (self.steps <= MAX_STEPS, f"steps must be at most {MAX_STEPS:,} (the paper's longest run is 11,000)"),
            (0 < self.lr < 1, "lr must lie in (0, 1); the paper uses 0.01"),
            (0 <= self.reg_noise_std < 1, "reg_noise_std must lie in [0, 1); the paper uses 1/30"),
            (1 <= self.channels <= 1024 and 1 <= self.input_channels <= 1024, "channels must lie in 1..1024"),
            (0 <= self.skip_channels <= 1024, "skip_channels must lie in 0..1024"),
            (1 <= self.scales <= 8, "scales must lie in 1..8"),
            (0 <= self.ema < 1, "ema must lie in [0, 1)"),
            (self.es_window >= 2 and self.es_patience >= 1, "es_window must be >= 2 and es_patience >= 1"),
            (self.snapshot_every >= 1, "snapshot_every must be at least 1"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (0 <= self.sure_sigma < 1, "sure_sigma is the noise std of images in [0, 1]: sigma 25 is 25 / 255"),
            (self.sure_delta > 0, "sure_delta must be positive"),
            (
                not (self.backtrack and self.sure_sigma > 0),
                "backtrack and sure_sigma cannot be combined: SURE compares two fits step by step, and backtracking "
                "would change one trajectory and not the other",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    def key(self) -> str:
        """A stable text key (used by the result cache)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)
