"""The ensemble model: the equal-weight mean of its members' class probabilities.

Nothing is fitted on validation (no weights, no member selection), so the
ensemble's validation accuracy is as honest an estimate as its members'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake import N_CLASSES
from deepfake.io import save_card

MIN_MEMBERS = 2


def mean_proba(probas: Mapping[str, np.ndarray]) -> np.ndarray:
    """Mean of the members' ``(N, 5)`` probability arrays (name -> array), float32.

    The mean is taken in float64 and in the members' order, so the result does
    not depend on summation order beyond that.
    """
    if len(probas) < MIN_MEMBERS:
        raise ValueError(f"an ensemble needs at least {MIN_MEMBERS} members, got {list(probas)}")
    shapes = {name: np.shape(p) for name, p in probas.items()}
    first = next(iter(shapes.values()))
    if len(first) != 2 or first[1] != N_CLASSES or len(set(shapes.values())) != 1:
        raise ValueError(f"members' probabilities must all be (N, {N_CLASSES}), got {shapes}")
    total = np.zeros(first, dtype=np.float64)
    for p in probas.values():
        total += p
    return (total / len(probas)).astype(np.float32)


def ensemble_metrics(
    name: str,
    members: Sequence[str],
    val_proba: np.ndarray,
    labels: np.ndarray,
    member_metrics: Mapping[str, Mapping],
    n_test: int,
) -> dict:
    """The ensemble's ``metrics.json``: accuracy, members and their own accuracies."""
    if len(labels) != len(val_proba):
        raise ValueError(f"{len(labels)} validation labels but {len(val_proba)} predictions")
    features = []
    for m in members:
        for f in str(member_metrics[m]["features"]).split("+"):
            if f not in features:
                features.append(f)
    return {
        "model": "ensemble",
        "variant": name,
        "features": "+".join(features),
        "val_accuracy": float(np.mean(val_proba.argmax(1) == labels)),
        "members": list(members),
        "member_val_accuracy": {m: float(member_metrics[m]["val_accuracy"]) for m in members},
        "n_val": len(labels),
        "n_test": int(n_test),
    }


@dataclass
class EnsembleModel:
    """The equal-weight mean of its members' probabilities."""

    members: dict  # member name (family/name) -> model

    @staticmethod
    def combine(probas: Mapping[str, np.ndarray]) -> np.ndarray:
        """The ensemble's probabilities from its members' (name -> (N, 5)), in order."""
        return mean_proba(probas)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self.combine({name: m.predict_proba(images) for name, m in self.members.items()})

    @staticmethod
    def save(folder: str | Path, members: Sequence[str]) -> None:
        save_card(folder, "ensemble", members=list(members))
