"""The ensemble model: the equal-weight mean of its members' class probabilities, or
their geometric mean (the mean of their logarithms, renormalised), which lets a member
sure of a class outvote an unsure one less than it lets a member sure a class is wrong.

Nothing is fitted on validation (no weights, no member selection), so the
ensemble's validation accuracy is as honest an estimate as its members'. Members are
combined at their own temperatures (:mod:`deepfake.calibration`), so that a sharp
member does not drown a cautious one for want of calibration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake import N_CLASSES
from deepfake.families import read_card, save_card

MIN_MEMBERS = 2
COMBINE = ("mean", "geometric")


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


def geometric_proba(probas: Mapping[str, np.ndarray]) -> np.ndarray:
    """The members' geometric mean, renormalised: ``exp(mean log p)`` (probabilities
    clipped at 1e-7 first, so one member's 0 does not veto a class), float32."""
    from deepfake.calibration import EPS

    logs = {
        name: np.log(np.clip(np.asarray(p, np.float64), EPS, 1.0)) for name, p in probas.items()
    }
    mean = mean_proba(logs).astype(np.float64)
    mean -= mean.max(axis=1, keepdims=True)
    scaled = np.exp(mean)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def combine(probas: Mapping[str, np.ndarray], how: str = "mean") -> np.ndarray:
    """The ensemble's probabilities from its members' (name -> (N, 5)), in order."""
    if how not in COMBINE:
        raise ValueError(f"ensemble combine must be one of {COMBINE}, got {how!r}")
    return mean_proba(probas) if how == "mean" else geometric_proba(probas)


def members_record(members: Sequence[str], member_metrics: Mapping[str, Mapping]) -> dict:
    """What the ensemble's metrics record takes from its members' (name -> metrics):
    its inputs, protocol (clean only if every member's is), training time and compute
    (their sums), the data they were trained on, and each member's accuracy."""
    inputs = []
    for m in members:
        for given in str(member_metrics[m]["inputs"]).split("+"):
            if given not in inputs:
                inputs.append(given)
    data = [member_metrics[m]["data"] for m in members]
    if any(d != data[0] for d in data):
        raise ValueError(f"ensemble members {list(members)} were trained on different data")
    clean = all(member_metrics[m]["protocol"] == "clean" for m in members)
    return {
        "inputs": "+".join(inputs),
        "protocol": "clean" if clean else "report",
        "train_seconds": sum(float(member_metrics[m]["train_seconds"]) for m in members),
        "train_pflop": sum(float(member_metrics[m]["train_pflop"]) for m in members),
        "n_train": int(member_metrics[members[0]]["n_train"]),
        "data": data[0],
        "member_val_accuracy": {m: float(member_metrics[m]["val_accuracy"]) for m in members},
    }


@dataclass
class EnsembleModel:
    """Its members' probabilities combined: their mean, or their geometric mean."""

    members: dict  # member name (family/name) -> model
    how: str = "mean"

    def combine(self, probas: Mapping[str, np.ndarray]) -> np.ndarray:
        """The ensemble's probabilities from its members' (name -> (N, 5)), in order."""
        return combine(probas, self.how)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self.combine({name: m.predict_proba(images) for name, m in self.members.items()})

    @staticmethod
    def save(
        folder: str | Path,
        members: Sequence[str],
        how: str = "mean",
        folders: dict[str, str] | None = None,
        **card,
    ) -> None:
        """Write the ensemble's model.json: its members and where their folders lie,
        relative to its own (default: sibling model folders of the same results tree,
        ``../../cnn/fast``; a shipped model keeps them inside, ``members/cnn_fast``)."""
        folders = folders or {m: f"../../{m}" for m in members}
        save_card(folder, "ensemble", members=list(members), folders=folders, combine=how, **card)

    @classmethod
    def load(cls, folder: str | Path, threads: int = 1) -> EnsembleModel:
        """The ensemble and its members, each loaded from its folder."""
        from deepfake.families import load

        card = read_card(folder)
        members = {m: load(Path(folder) / card["folders"][m], threads) for m in card["members"]}
        return cls(members, card["combine"])
