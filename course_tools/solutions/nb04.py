"""Solutions for notebook 04 (the network prior)."""

import numpy as np

CONCEPT_ANSWERS = (
    "Because the prior is in the speed, not in what can be fitted: the network fits the structure of an image long "
    "before it fits noise, so a fit to a noisy image that is stopped early has taken most of the image and left most "
    "of the noise out. The fit's path, not its end, carries the prior; this is why early stopping is part of the "
    "method.",  # 1
    "Shuffling keeps the colours but destroys the spatial structure: neighbouring pixels become unrelated, as in white "
    "noise, and the image's energy is spread over every frequency. The network draws correlated, smooth images "
    "easily, so only what does not depend on position (roughly the mean colour) is fitted fast; the rest is as hard "
    "as noise.",  # 2
    "The untrained network's output has most of its energy at low frequencies: smooth, correlated patterns are what "
    "it draws easily, and gradient descent changes its output most easily in those directions. A natural image also "
    "has most of its energy at low frequencies, so most of its error goes quickly; shuffled pixels and white noise "
    "spread their energy evenly over all frequencies, including the high ones the network draws slowly.",  # 3
    "It would become the noisy image itself, noise included: the loss compares the output with the noisy image "
    "only, so fitting the noise lowers it just as fitting the image does, and the network can fit anything given "
    "enough steps. Nothing in the loss says which part is noise; only stopping in time does.",  # 4
    "The top band (the finest frequencies): the image's fine texture and edges live there beside most of the noise, "
    "and the network fits that band last, for the image as for the noise. At the step where the output is best, the "
    "top band is still partly unfitted, texture included; stopping later fits the rest of it, but the noise with it, "
    "so every stopping step trades texture against noise in that band.",  # 5
)


def my_steps_to_reach(losses, level):
    """First step (from 1) whose loss is at or below ``level``; None if never."""
    hits = np.flatnonzero(np.asarray(losses) <= level)
    return int(hits[0]) + 1 if hits.size else None


ORDER = ["image", "image + noise", "shuffled pixels", "white noise"]


#: model answer to the open exercise
OPEN = """\
Exercise 3 (a smaller network). With 16 channels the network has about a quarter of the parameters: it still fits
the natural image quickly, but it fits white noise even more slowly, so the gap between the curves grows. A very
small network cannot fit noise at all within the budget; that is the idea behind under-parameterised priors such
as the Deep Decoder (Heckel and Hand, 2018)."""
