"""The original design of DIP denoising, in PyTorch: a yardstick for measuring the course's engine.

Not part of the course and never imported by it; it needs ``pip install torch numpy pillow``.
It rebuilds, from the paper's description and its code's documented settings, the skip network
(5 scales, 128 channels, 4 skip channels, reflection padding, bilinear upsampling, stride-2
downsampling, batch norm in training mode, LeakyReLU 0.2, sigmoid), the input
z ~ U(0, 0.1) with 32 channels, fresh input noise of std ``--reg-noise-std`` at every step, Adam at
``--lr`` on the mean squared error, and the 0.99 moving average of outputs.

    python benchmarks/torch_reference.py NOISY.npy CLEAN.npy --steps 1500 --seed 0
    python benchmarks/torch_reference.py --bench 512   # ms per Adam step at 512x512, nothing else

Both arrays are (H, W, 3) float32 in [0, 1]. Prints one JSON line: the peak PSNR, its step, the
last PSNR and the moving average's last PSNR (against CLEAN), and seconds per step. It runs on
the GPU when PyTorch sees one (``--device`` to choose).
``benchmarks/compare_quality.py`` runs this and the course's engine on the same data.
"""

import argparse
import json
import math
import time

import numpy as np
import torch
from torch import nn


def block(cin, cout, k, stride=1, bn=True, act=True):
    layers = [nn.ReflectionPad2d((k - 1) // 2)] if k > 1 else []
    layers.append(nn.Conv2d(cin, cout, k, stride))
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    if act:
        layers.append(nn.LeakyReLU(0.2))
    return layers


class Level(nn.Module):
    """One scale: a 4-channel 1x1 skip branch and a deeper branch (down, next scale, up), joined."""

    def __init__(self, cin, depth, ch=128, skip=4):
        super().__init__()
        self.skip = nn.Sequential(*block(cin, skip, 1))
        deeper = block(cin, ch, 3, stride=2) + block(ch, ch, 3)
        if depth > 1:
            deeper.append(Level(ch, depth - 1, ch, skip))
        deeper.append(nn.Upsample(scale_factor=2, mode="bilinear"))
        self.deeper = nn.Sequential(*deeper)
        self.join = nn.Sequential(nn.BatchNorm2d(skip + ch), *block(skip + ch, ch, 3), *block(ch, ch, 1))

    def forward(self, x):
        return self.join(torch.cat([self.skip(x), self.deeper(x)], 1))


def skip_net(cin=32, cout=3, scales=5):
    return nn.Sequential(Level(cin, scales), *block(128, cout, 1, bn=False, act=False), nn.Sigmoid())


def psnr(a, b):
    return 10 * math.log10(1 / max(float(((a - b) ** 2).mean()), 1e-12))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("noisy", nargs="?"), p.add_argument("clean", nargs="?")
    p.add_argument("--bench", type=int, metavar="SIZE", help="only time Adam steps on a SIZE x SIZE image")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--reg-noise-std", "--reg-noise", type=float, default=1 / 30, help="(--reg-noise: its old name)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    if a.bench:
        return bench(a.bench, a.device, min(a.steps, 50))
    if a.noisy is None or a.clean is None:
        p.error("give NOISY and CLEAN, or --bench SIZE")
    y = torch.from_numpy(np.load(a.noisy)).permute(2, 0, 1)[None].float().to(a.device)
    clean = np.load(a.clean)
    net = skip_net().to(a.device)
    assert sum(q.numel() for q in net.parameters()) == 2_217_831
    z = torch.rand(1, 32, *y.shape[2:], device=a.device) * 0.1
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    avg, curve = None, []
    start = time.perf_counter()
    for _ in range(a.steps):
        opt.zero_grad()
        out = net(z + a.reg_noise_std * torch.randn_like(z))
        loss = ((out - y) ** 2).mean()
        loss.backward()
        opt.step()
        o = out.detach()[0].permute(1, 2, 0).cpu().numpy()
        avg = o if avg is None else 0.99 * avg + 0.01 * o
        curve.append(psnr(o, clean))
    sec = (time.perf_counter() - start) / a.steps
    print(
        json.dumps(
            {
                "psnr_peak": round(max(curve), 2),
                "peak_step": int(np.argmax(curve)) + 1,
                "psnr_last": round(curve[-1], 2),
                "psnr_ema_last": round(psnr(avg, clean), 2),
                "s_per_step": round(sec, 3),
                "seed": a.seed,
                "torch": torch.__version__,
            }
        )
    )


def bench(size: int, device: str, steps: int = 50) -> None:
    """Print the median milliseconds of an Adam step at ``size`` x ``size`` (after a warm-up), as JSON."""
    net = skip_net().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    z, y = torch.rand(1, 32, size, size, device=device) * 0.1, torch.rand(1, 3, size, size, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = []
    for i in range(steps + 5):
        start = time.perf_counter()
        opt.zero_grad()
        loss = ((net(z + torch.randn_like(z) / 30) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sync()
        if i >= 5:
            times.append(time.perf_counter() - start)
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    print(
        json.dumps(
            {
                "ms_per_step": round(1000 * float(np.median(times)), 2),
                "size": size,
                "device": name,
                "tf32": torch.backends.cudnn.allow_tf32,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
