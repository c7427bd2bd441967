"""Solutions for notebook 05 (DIP denoising)."""

import numpy as np


def my_ema(frames, decay):
    """Exponential moving average of a sequence of images, started at the first one."""
    avg = np.asarray(frames[0], np.float64)
    for f in frames[1:]:
        avg = decay * avg + (1 - decay) * np.asarray(f, np.float64)
    return avg


def my_variance(frames):
    """Mean over pixels of the variance over the frames (ES-WMV's statistic)."""
    return float(np.mean(np.var(np.stack(frames), axis=0)))
