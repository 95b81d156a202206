"""The KNN model: its descriptors, k, voting and reference rows, as a model folder.

``model.json`` names the descriptors (one, or the groups of a combination with
their scales and weights), k and the voting rule; ``reference.npz`` holds the
training rows as searched (``x``) and their labels (``y``). The knn rule computes
its validation and test probabilities through :meth:`KnnModel.proba_from_descriptors`,
predict through :meth:`KnnModel.predict_proba`: the same search and votes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake import layout
from deepfake.descriptor_model import DescriptorModel, Fitted, Job, LoadedSet
from deepfake.families import read_card, save_card
from deepfake.io import atomic_path
from deepfake.knn_search import (
    best_k,
    choose_combination,
    combine,
    cross_validate_combination,
    group_scales,
    knn_grid,
    knn_proba,
)
from deepfake.settings import COMBINATION

log = logging.getLogger(__name__)


@dataclass
class KnnModel(DescriptorModel):
    """k nearest neighbours (L1) among the reference rows, on one descriptor or a
    weighted combination of descriptor groups."""

    descriptors: tuple[str, ...]
    k: int
    voting: str
    reference: np.ndarray  # the training rows as searched
    labels: np.ndarray
    group_scales: tuple[float, ...] | None = None  # a combination's, else None
    group_weights: tuple[float, ...] | None = None
    threads: int = 1  # of the neighbour search (the result does not depend on it)

    @classmethod
    def fit(
        cls,
        descriptors: Sequence[str],
        groups: Sequence[np.ndarray],
        labels: np.ndarray,
        k: int,
        voting: str,
        group_scales: Sequence[float] | None = None,
        group_weights: Sequence[float] | None = None,
        threads: int = 1,
    ) -> KnnModel:
        """The model whose reference rows are the training descriptors ``groups``."""
        model = cls(
            tuple(descriptors),
            int(k),
            str(voting),
            np.empty(0),
            np.asarray(labels),
            None if group_scales is None else tuple(float(s) for s in group_scales),
            None if group_weights is None else tuple(float(w) for w in group_weights),
            threads,
        )
        model.reference = model.embed(groups)
        return model

    @classmethod
    def fit_sets(cls, sets: Mapping[str, LoadedSet], job: Job) -> Fitted:
        """The family's step of the shared model job: on one descriptor, k and voting
        chosen on validation (the report protocol; the grid of validation accuracies in
        grid.csv); for the combination, group weights, k and voting by cross-validation
        on the training split (validation scored once: clean; the cross-validation table
        in grid.csv)."""
        train, val = sets["train"], sets["validation"]
        k, weights, threads = job.settings["k"], job.settings["weights"], job.threads
        if job.name != COMBINATION:
            grid, _ = knn_grid(
                train.groups[0], train.labels, val.groups[0], val.labels, k, weights, threads
            )
            log.info("validation accuracy per (k, weights):\n%s", grid.to_string(index=False))
            best, voting = best_k(grid)
            model = cls.fit([job.name], train.groups, train.labels, best, voting, threads=threads)
            return Fitted(
                model,
                "report",
                {"best_k": model.k, "voting": model.voting},
                {layout.GRID: grid},
                inputs=job.name,
            )
        combo = job.settings["combination"]
        cv = cross_validate_combination(
            train.groups,
            train.labels,
            k,
            weights,
            combo["group_weights"],
            combo["folds"],
            combo["seed"],
            threads,
        )
        chosen = choose_combination(cv)
        log.info("cross-validation on the training split chose %s", chosen)
        scales = group_scales(train.groups, seed=combo["seed"])
        model = cls.fit(
            combo["groups"],
            train.groups,
            train.labels,
            chosen["k"],
            chosen["weights"],
            group_scales=scales,
            group_weights=chosen["group_weights"],
            threads=threads,
        )
        grid = cv.assign(group_weights=[" ".join(map(str, w)) for w in cv["group_weights"]])
        metrics = {
            "best_k": model.k,
            "voting": model.voting,
            "groups": list(combo["groups"]),
            "group_weights": list(model.group_weights),
            "group_scales": list(model.group_scales),
            "cv_accuracy": chosen["cv_accuracy"],
            "cv_folds": combo["folds"],
        }
        return Fitted(model, "clean", metrics, {layout.GRID: grid}, inputs=job.name)

    def embed(self, groups: Sequence[np.ndarray]) -> np.ndarray:
        """The rows searched: the one descriptor as it is, or the groups side by side,
        each scaled by its weight over its scale."""
        if len(groups) != len(self.descriptors):
            raise ValueError(f"{len(groups)} descriptor groups for {list(self.descriptors)}")
        if self.group_scales is None:
            return groups[0]
        return combine(groups, self.group_scales, self.group_weights)

    def proba_from_descriptors(self, groups: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (N, 5) of query rows given as their descriptor groups."""
        return knn_proba(
            self.reference, self.labels, self.embed(groups), self.k, self.voting, self.threads
        )

    def save(self, folder: str | Path, **card) -> None:
        """Write the folder; ``card``: more of its model.json (what it was trained on,
        its temperature: :func:`deepfake.families.save_card`)."""
        folder = Path(folder)
        with atomic_path(folder / layout.REFERENCE) as tmp:
            np.savez(tmp, x=self.reference, y=self.labels)
        save_card(
            folder,
            "knn",
            **card,
            descriptors=list(self.descriptors),
            k=self.k,
            voting=self.voting,
            group_scales=None if self.group_scales is None else list(self.group_scales),
            group_weights=None if self.group_weights is None else list(self.group_weights),
            reference=layout.REFERENCE,
        )

    @classmethod
    def load(cls, folder: str | Path, threads: int = 1) -> KnnModel:
        folder = Path(folder)
        card = read_card(folder)
        if card["reference"] != layout.REFERENCE:
            raise ValueError(f"{folder}: its card names the reference {card['reference']!r}, "
                             f"not {layout.REFERENCE!r} beside it")  # fmt: skip
        with np.load(folder / layout.REFERENCE, allow_pickle=False) as data:
            reference, labels = data["x"], data["y"]
        scales, weights = card["group_scales"], card["group_weights"]
        return cls(
            tuple(card["descriptors"]),
            int(card["k"]),
            str(card["voting"]),
            reference,
            labels,
            None if scales is None else tuple(scales),
            None if weights is None else tuple(weights),
            threads,
        )
