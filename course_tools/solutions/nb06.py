"""Solutions for notebook 06 (when to stop)."""

import numpy as np

CONCEPT_ANSWERS = (
    "The average mixes about the last 100 outputs, so it lags them: after the peak it still carries earlier, "
    "cleaner outputs, and it smooths over Adam's spikes. With input noise, the detail that changes with n from "
    "step to step also cancels in it.",  # 1
    "It uses only the network's own outputs. Once the image is drawn the outputs settle and their variance falls; "
    "when the network starts reproducing the noise they change again, pixel by pixel, and the variance rises, so its "
    "minimum lies near the peak of the PSNR to the clean image.",  # 2
    "The network sees a slightly different input at every step, so it cannot tie the exact noise pattern of y to one "
    "input: fitting the noise slows down, the peak comes later and the fall after it is slower. The price is more "
    "steps to reach the peak.",  # 3
    "Because it keeps rising until the network has copied the noisy image: its highest value is at the last step, "
    "an output far past the peak, with much of the noise copied. It measures the fit to y, noise included, not the "
    "distance to the clean image.",  # 4
    "Earlier, or at the same step, never later, as long as the divergence grows along the run. The term -sigma^2 "
    "only shifts the curve, but the divergence term, 2 sigma^2 div f(y) / N, weighs four times more: following the "
    "noisy pixels costs more, so the lowest point moves to an earlier, smoother output.",  # 5
)


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
