"""What the models on the file-level descriptors (KNN, gbm) share."""

from __future__ import annotations

import numpy as np

from deepfake.features import descriptor


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
