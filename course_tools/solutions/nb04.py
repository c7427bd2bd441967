"""Solutions for notebook 04 (the network prior)."""

import numpy as np


def my_steps_to_reach(losses, level):
    """First step (from 1) whose loss is at or below ``level``; None if never."""
    hits = np.flatnonzero(np.asarray(losses) <= level)
    return int(hits[0]) + 1 if hits.size else None


ORDER = ["image", "image + noise", "shuffled pixels", "white noise"]
