"""The sets the models learn from, made from the ingested splits: the calibration
hold-out drawn from the training set, and the training and validation images joined for
a refit. Numpy only (the workflow's own helpers; ``deepfake.make_split``, behind
``tools/make_split.py``, makes a data folder)."""

from __future__ import annotations

import numpy as np


def holdout_mask(labels, fraction: float, seed: int):
    """A stratified, seeded choice of ``fraction`` of the images (True: held out), in
    the order given; at least one image of each class stays on each side."""
    labels = np.asarray(labels)
    held = np.zeros(len(labels), dtype=bool)
    rng = np.random.default_rng(seed)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        n = min(len(rows) - 1, max(1, round(fraction * len(rows))))
        held[rng.choice(rows, size=n, replace=False)] = True
    return held


def joined(*sets: dict) -> dict:
    """Sets of arrays (``images``, ``ids``, ``labels``) as one, in the order given; sets
    with other arrays, or sharing an id, are refused."""
    keys = set(sets[0])
    if any(set(other) != keys for other in sets[1:]):
        raise ValueError(f"sets with different arrays: {[sorted(s) for s in sets]}")
    out = {k: np.concatenate([s[k] for s in sets]) for k in sets[0]}
    ids, counts = np.unique(out["ids"], return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"an image id in two sets: {ids[counts > 1][:5].tolist()}")
    return out
