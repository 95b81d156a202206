""" "None of these five": how far an image lies from the training images, how unsure the
model is of it, and the threshold above which predict calls it ``unknown``.

Two signals, each standardised on held-out training images (never on validation):

- the **distance**: the mean Euclidean distance to the ``k`` nearest training images in
  a small whitened space of the hand-made fingerprint descriptors (each value on a
  signed log scale, since histogram cells span orders of magnitude; standardised on the
  training images; projected on the first ``dims`` principal components, whitened).
  Images of the five generators sit in the clusters the training images draw; a
  photograph, another generator's image or a synthetic scene lands away from them;
- the **uncertainty** of the model that attributes the image: the entropy of its
  (calibrated) probabilities. A downscaled photograph can look like the training images
  to the descriptors and still carry none of the five fingerprints the model learnt.

With a model (``unknowns.model``), the score is the sum of the two standardised signals;
without one, the distance alone. The threshold is the ``quantile`` of the held-out
training images' scores, so about 1 - quantile of the five generators' new images are
called unknown by mistake. ``benchmarks/unknowns.py`` measures a detector: with the
laptop ensemble on the dev split, AUROC 0.97 against crops of natural photographs and
0.99 against the synthetic demo images, 1.0% of validation images called unknown
(docs/results.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepfake.descriptors import descriptor
from deepfake.io import atomic_path

LOG_FLOOR = 1e-3  # signed log scale: sign(x) * log(|x| + floor)


def signed_log(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log(|x| + 1e-3)``, with an empty histogram cell (0) taken as positive:
    on the same side as the small counts it is the limit of."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 0, -1.0, 1.0) * np.log(np.abs(x) + LOG_FLOOR)


def entropy(proba: np.ndarray) -> np.ndarray:
    """The entropy of each row of probabilities (nats): 0 when sure, log 5 when not."""
    p = np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


@dataclass
class UnknownDetector:
    """The distance of new images from the training images, the model's uncertainty, and
    the threshold of their standardised sum."""

    descriptors: tuple[str, ...]
    center: np.ndarray  # of the signed-log descriptor values on the training images
    scale: np.ndarray
    mean: np.ndarray  # of the standardised rows (the principal components' origin)
    projection: np.ndarray  # (D, dims): components, each divided by its deviation
    reference: np.ndarray  # (N, dims): the training images, projected
    k: int
    quantile: float
    distance_threshold: float = np.inf  # without the model's probabilities
    model: str = ""  # the model whose uncertainty joins the distance ("": none)
    # mean and deviation on held-out training images: distance, then uncertainty
    standard: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0, 1.0]))
    threshold: float = np.inf  # of the score with the model's probabilities

    @classmethod
    def fit(
        cls,
        descriptors: Sequence[str],
        train: Sequence[np.ndarray],
        heldout: Sequence[np.ndarray],
        dims: int = 32,
        k: int = 5,
        quantile: float = 0.99,
        heldout_proba: np.ndarray | None = None,
        model: str = "",
    ) -> UnknownDetector:
        """Fit the distance on the training images' descriptor groups ``train``; the
        standardisation and the thresholds come from held-out training images
        (``heldout``, and ``model``'s probabilities of them, ``heldout_proba``)."""
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
            tuple(descriptors), center, scale, mean, projection, reference, int(k),
            float(quantile),
        )  # fmt: skip
        distance = detector.distances(heldout)
        detector.distance_threshold = float(np.quantile(distance, quantile))
        if heldout_proba is not None:
            if len(heldout_proba) != len(distance):
                raise ValueError(
                    f"{len(heldout_proba)} held-out probabilities for {len(distance)} images"
                )
            unsure = entropy(heldout_proba)
            detector.model = str(model)
            detector.standard = np.array(
                [distance.mean(), distance.std() + 1e-12, unsure.mean(), unsure.std() + 1e-12]
            )
            scores = detector.combine(distance, heldout_proba)
            detector.threshold = float(np.quantile(scores, quantile))
        return detector

    def embed(self, groups: Sequence[np.ndarray]) -> np.ndarray:
        z = (signed_log(np.concatenate(groups, axis=1)) - self.center) / self.scale
        return (z - self.mean) @ self.projection

    def distances(self, groups: Sequence[np.ndarray], block: int = 512) -> np.ndarray:
        """The distance of images given as their descriptor groups (``descriptors``
        order) from the training images."""
        from scipy.spatial.distance import cdist

        q = self.embed(groups)
        out = np.empty(len(q))
        for start in range(0, len(q), block):
            d = cdist(q[start : start + block], self.reference)
            out[start : start + block] = np.partition(d, self.k - 1, axis=1)[:, : self.k].mean(1)
        return out

    def combine(self, distance: np.ndarray, proba: np.ndarray) -> np.ndarray:
        """The standardised distance plus the standardised uncertainty."""
        d_mean, d_std, u_mean, u_std = self.standard
        return (distance - d_mean) / d_std + (entropy(proba) - u_mean) / u_std

    def score_rows(
        self, groups: Sequence[np.ndarray], proba: np.ndarray | None = None
    ) -> tuple[np.ndarray, float]:
        """(scores, threshold) of images given as their descriptor groups: with the
        model's probabilities ``proba`` (when the detector knows a model), the combined
        score; else the distance."""
        distance = self.distances(groups)
        if proba is None or not self.model:
            return distance, self.distance_threshold
        return self.combine(distance, proba), self.threshold

    def score(self, images: np.ndarray, proba: np.ndarray | None = None):
        """(scores, threshold) of RGB uint8 images (N, 100, 100, 3): higher is farther."""
        return self.score_rows([descriptor(name, images) for name in self.descriptors], proba)

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp:
            np.savez(
                tmp, descriptors=np.array(self.descriptors), center=self.center,
                scale=self.scale, mean=self.mean, projection=self.projection,
                reference=self.reference.astype(np.float32), k=self.k, quantile=self.quantile,
                distance_threshold=self.distance_threshold, model=np.array(self.model),
                standard=self.standard, threshold=self.threshold,
            )  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> UnknownDetector:
        with np.load(path, allow_pickle=False) as f:
            return cls(
                tuple(str(d) for d in f["descriptors"]), f["center"], f["scale"], f["mean"],
                f["projection"], f["reference"].astype(np.float64), int(f["k"]),
                float(f["quantile"]), float(f["distance_threshold"]), str(f["model"]),
                f["standard"], float(f["threshold"]),
            )  # fmt: skip
