""" "None of these five": how far an image lies from the training images, and the
threshold above which predict calls it ``unknown``.

The score is the mean Euclidean distance to the ``k`` nearest training images in a
small whitened space of the hand-made fingerprint descriptors: each descriptor value
is put on a signed log scale (histogram cells span orders of magnitude), standardised
on the training images, projected on its first ``dims`` principal components and
whitened. Images of the five generators sit in the clusters the training images draw;
a photograph, another generator's image or a synthetic scene lands away from them.
The threshold is the ``quantile`` of the scores of held-out training images (never of
validation), so about 1 - quantile of the five generators' new images are called
unknown by mistake.

Measured with the workflow's descriptors on the dev split (fitted on 10,000 training
images, threshold from 1,250 held-out ones): AUROC 0.957 against 100x100 crops of
natural photographs, 0.987 against the synthetic demo images, 0.8% of validation
images called unknown (``benchmarks/unknowns.py`` measures a trained run's detector).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake.features import descriptor
from deepfake.io import atomic_path

DESCRIPTORS = ("cooc", "crosscooc", "spectrum", "lbp", "jointhsv", "hsv16")
LOG_FLOOR = 1e-3  # signed log scale: sign(x) * log(|x| + floor)


def signed_log(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log(|x| + 1e-3)``, with an empty histogram cell (0) taken as positive:
    on the same side as the small counts it is the limit of."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 0, -1.0, 1.0) * np.log(np.abs(x) + LOG_FLOOR)


@dataclass
class UnknownDetector:
    """Distance of new images from the training images, and its threshold."""

    descriptors: tuple[str, ...]
    center: np.ndarray  # of the signed-log descriptor values on the training images
    scale: np.ndarray
    mean: np.ndarray  # of the standardised rows (the principal components' origin)
    projection: np.ndarray  # (D, dims): components, each divided by its deviation
    reference: np.ndarray  # (N, dims): the training images, projected
    k: int
    threshold: float
    quantile: float

    @classmethod
    def fit(
        cls,
        descriptors: Sequence[str],
        train: Sequence[np.ndarray],
        heldout: Sequence[np.ndarray],
        dims: int = 32,
        k: int = 5,
        quantile: float = 0.99,
    ) -> UnknownDetector:
        """Fit on the training images' descriptor groups ``train``; the threshold is the
        ``quantile`` of the scores of held-out training images (``heldout``)."""
        x = signed_log(np.concatenate(train, axis=1))
        center, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - center) / scale
        mean = z.mean(axis=0)
        _, singular, vt = np.linalg.svd(z - mean, full_matrices=False)
        dims = min(dims, len(singular))
        deviation = singular[:dims] / np.sqrt(len(z) - 1)
        projection = vt[:dims].T / np.maximum(deviation, 1e-12)
        # the reference rows as saved (float32), so the threshold is what predict will see
        reference = ((z - mean) @ projection).astype(np.float32).astype(np.float64)
        detector = cls(
            tuple(descriptors), center, scale, mean, projection,
            reference, int(k), np.inf, float(quantile),
        )  # fmt: skip
        detector.threshold = float(np.quantile(detector.score_rows(heldout), quantile))
        return detector

    def embed(self, groups: Sequence[np.ndarray]) -> np.ndarray:
        z = (signed_log(np.concatenate(groups, axis=1)) - self.center) / self.scale
        return (z - self.mean) @ self.projection

    def score_rows(self, groups: Sequence[np.ndarray], block: int = 512) -> np.ndarray:
        """Scores of images given as their descriptor groups (in ``descriptors`` order)."""
        from scipy.spatial.distance import cdist

        q = self.embed(groups)
        out = np.empty(len(q))
        for start in range(0, len(q), block):
            d = cdist(q[start : start + block], self.reference)
            out[start : start + block] = np.partition(d, self.k - 1, axis=1)[:, : self.k].mean(1)
        return out

    def score(self, images: np.ndarray) -> np.ndarray:
        """Scores of RGB uint8 images (N, 100, 100, 3): higher is farther."""
        return self.score_rows([descriptor(name, images) for name in self.descriptors])

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp:
            np.savez(
                tmp, descriptors=np.array(self.descriptors), center=self.center,
                scale=self.scale, mean=self.mean, projection=self.projection,
                reference=self.reference.astype(np.float32), k=self.k,
                threshold=self.threshold, quantile=self.quantile,
            )  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> UnknownDetector:
        with np.load(path, allow_pickle=False) as f:
            return cls(
                tuple(str(d) for d in f["descriptors"]), f["center"], f["scale"], f["mean"],
                f["projection"], f["reference"].astype(np.float64), int(f["k"]),
                float(f["threshold"]), float(f["quantile"]),
            )  # fmt: skip
