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


#: model answer to the open exercise
OPEN = """\
Exercise 3 (the input noise back). With reg_noise_std = 1/30 the network sees a slightly different input at every
step, so it cannot memorise the exact noise pattern: fitting the noise slows down. The PSNR to the clean image
peaks later, the fall after the peak is slower and smaller, and the moving average of outputs gains most,
because consecutive outputs now differ. The price: more steps to the peak."""
