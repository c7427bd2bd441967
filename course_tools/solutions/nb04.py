"""Solutions for notebook 04 (the network prior)."""

import numpy as np


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
