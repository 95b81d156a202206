"""What the models on the file-level descriptors (KNN, gbm) share: describing new images,
and what the shared model job and a family's fit pass each other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from deepfake.descriptors import descriptor


class DescriptorModel:
    """What a model on the file-level descriptors (KNN, gbm) shares: it describes new
    images by the descriptor rules' own functions, then scores those rows with its
    ``proba_from_descriptors`` (the method its rule used for validation and test)."""

    descriptors: tuple[str, ...]

    def describe(self, images: np.ndarray) -> list[np.ndarray]:
        """The model's descriptors of ``images``, by the descriptor rules' functions."""
        return [descriptor(name, images) for name in self.descriptors]

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self.proba_from_descriptors(self.describe(images))


# What the shared model job (deepfake.model_job) and a family's fit pass each other.


@dataclass(frozen=True)
class LoadedSet:
    """One set a model learns from or predicts: its descriptor groups (in the order of
    the job's descriptors) and its labels (-1 for the test split)."""

    groups: list[np.ndarray]
    labels: np.ndarray


@dataclass(frozen=True)
class Job:
    """What a family's fit is asked: the model's name (``results/<family>/<name>``), the
    descriptor groups it reads (as their output folders: ``hsv16``, ``spectrum``;
    ``pixels``), the config values it uses (its record's ``params``) and its threads."""

    name: str
    descriptors: tuple[str, ...]
    settings: Mapping
    threads: int = 1


@dataclass(frozen=True)
class Fitted:
    """What a family's fit gives back: the model (with ``proba_from_descriptors`` and
    ``save``), its protocol (``report``: it chose something on validation; ``clean``),
    its own keys of the metrics record, the extra files of its folder (the record's
    ``outputs``: file name -> a DataFrame for ``.csv``, a dict for ``.json``) and its
    inputs in a few words (default: its descriptors joined by ``+``)."""

    model: object
    protocol: str
    metrics: Mapping = field(default_factory=dict)
    files: Mapping[str, object] = field(default_factory=dict)
    inputs: str | None = None
