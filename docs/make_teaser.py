"""Make docs/teaser.png: a noisy photograph and Deep Image Prior's restoration, from a real run of the course's engine.

    python docs/make_teaser.py          # about 3 minutes on a 2-core CPU

The run: the course's `chelsea` image at 192x192, Gaussian noise of sigma 25, the skip network with 64 channels per
scale, the paper's input noise (1/30) and learning rate, 1500 steps; the picture shows the moving average of the
outputs, which needs no clean image (the clean one is passed only to log the PSNR curve printed at the end).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import dip_helpers as dh

x = dh.load_image("chelsea", size=192)
noisy = dh.add_gaussian_noise(x, 25, seed=0)
run = dh.fit_dip(noisy, config=dh.DIPConfig(steps=1500, channels=64, snapshot_every=500), truth=x)
fig = dh.show_images(
    [noisy, run.average, x],
    [
        f"noisy, sigma 25: {dh.psnr(x, noisy):.1f} dB",
        f"Deep Image Prior: {dh.psnr(x, run.average):.1f} dB",
        "the original (never seen by the method)",
    ],
    size=3.4,
)
fig.suptitle("An untrained network, fitted to the noisy image alone, restores it", fontsize=12)
fig.tight_layout()
out = Path(__file__).resolve().parent / "teaser.png"
fig.savefig(out, dpi=80)
t = run.history["psnr_truth"]
print(
    f"{out}: {run.seconds:.0f} s, noisy {dh.psnr(x, noisy):.2f} dB, moving average {dh.psnr(x, run.average):.2f} dB, "
    f"last output {t[-1]:.2f} dB, peak {t.max():.2f} dB at step {int(t.argmax()) + 1}"
)
