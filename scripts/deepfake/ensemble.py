"""The ensemble model: the equal-weight mean of its members' class probabilities.

Nothing is fitted on validation (no weights, no member selection), so the
ensemble's validation accuracy is as honest an estimate as its members'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake import N_CLASSES, layout
from deepfake.families import read_card, save_card

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


def members_record(members: Sequence[str], member_metrics: Mapping[str, Mapping]) -> dict:
    """What the ensemble's metrics record takes from its members' (name -> metrics):
    its inputs, protocol (clean only if every member's is), training time and compute
    (their sums), the data they were trained on, and each member's accuracy."""
    features = []
    for m in members:
        for f in str(member_metrics[m]["features"]).split("+"):
            if f not in features:
                features.append(f)
    data = [member_metrics[m]["data"] for m in members]
    if any(d != data[0] for d in data):
        raise ValueError(f"ensemble members {list(members)} were trained on different data")
    clean = all(member_metrics[m]["protocol"] == "clean" for m in members)
    return {
        "features": "+".join(features),
        "protocol": "clean" if clean else "report",
        "train_seconds": sum(float(member_metrics[m]["train_seconds"]) for m in members),
        "train_pflop": sum(float(member_metrics[m]["train_pflop"]) for m in members),
        "n_train": int(member_metrics[members[0]]["n_train"]),
        "data": data[0],
        "member_val_accuracy": {m: float(member_metrics[m]["val_accuracy"]) for m in members},
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
    def save(folder: str | Path, members: Sequence[str], data: dict | None = None) -> None:
        save_card(folder, "ensemble", data=data, members=list(members))

    @classmethod
    def load(cls, folder: str | Path, threads: int = 1) -> EnsembleModel:
        """The ensemble and its members, sibling model folders of the same results tree."""
        from deepfake.families import load

        root = layout.results_root(folder)
        members = read_card(folder)["members"]
        paths = layout.Layout(str(root))
        return cls({m: load(paths.model_dir(m), threads) for m in members})
