"""Offline augmentation: seeded random copies of the training images.

Each copy is a random variant (flip, rotation, shift, crop, brightness, contrast:
:func:`augment_image`), then, with the probabilities ``resize`` and ``jpeg``, taken
on a trip as images travel (:func:`travel`): resized and back, then saved as JPEG,
by :func:`deepfake.degrade.degrade`, the function the robustness benchmark measures
with. The trips draw from a random stream of their own, so a config without them
gives the same copies as before they existed."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deepfake.degrade import degrade


@dataclass(frozen=True)
class AugmentParams:
    """The ``augment`` section of the config, every key given (the schema holds the
    defaults: schemas/config.schema.yaml)."""

    copies: int
    seed: int
    hflip: bool
    max_rotation_deg: float
    max_shift_frac: float
    min_crop_frac: float
    brightness: float
    contrast: float
    jpeg: float  # probability that a copy is saved as JPEG
    jpeg_quality: tuple[int, int]  # its quality, uniform over this range (inclusive)
    resize: float  # probability that a copy is resized and back
    resize_factor: tuple[float, float]  # the factor, log-uniform over this range


def augment_image(image: np.ndarray, rng: np.random.Generator, p: AugmentParams) -> np.ndarray:
    """One random variant of an RGB uint8 image, same shape.

    Rotation, shift and crop-and-resize are one affine warp (a single
    resampling); borders are mirrored so no black corners skew the colour
    histograms.
    """
    height, width = image.shape[:2]
    angle = rng.uniform(-p.max_rotation_deg, p.max_rotation_deg)
    scale = 1.0 / rng.uniform(p.min_crop_frac, 1.0)  # crop a fraction, resize it back
    shift = rng.uniform(-p.max_shift_frac, p.max_shift_frac, size=2) * (width, height)
    flip = p.hflip and rng.random() < 0.5
    gain = rng.uniform(1.0 - p.contrast, 1.0 + p.contrast)
    offset = rng.uniform(-p.brightness, p.brightness) * 255.0

    out = image[:, ::-1] if flip else image
    if angle or scale != 1.0 or shift.any():
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
        matrix[:, 2] += shift
        out = cv2.warpAffine(
            np.ascontiguousarray(out),
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
    if gain != 1.0 or offset:
        # Contrast around mid-grey, then brightness; one rounding at the end.
        shifted = out.astype(np.float32) * gain + (offset + 127.5 * (1.0 - gain))
        out = np.clip(np.rint(shifted), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out)


def travel(image: np.ndarray, rng: np.random.Generator, p: AugmentParams) -> np.ndarray:
    """An RGB uint8 image after a random trip (:class:`AugmentParams`): with probability
    ``p.resize`` resized by a log-uniform factor and back, then with probability
    ``p.jpeg`` saved as JPEG of a uniform quality; the same image when neither fires."""
    # every draw is made whether or not it fires: a copy's trip depends on its place only
    resize, jpeg = rng.random(2)
    factor = np.exp(rng.uniform(*np.log(p.resize_factor)))
    quality = int(rng.integers(p.jpeg_quality[0], p.jpeg_quality[1], endpoint=True))
    if resize < p.resize:
        image = degrade(image, "resize", float(factor))
    if jpeg < p.jpeg:
        image = degrade(image, "jpeg", quality)
    return image


def augment_split(
    images: np.ndarray, ids: np.ndarray, labels: np.ndarray, p: AugmentParams
) -> dict[str, np.ndarray]:
    """The training set for the CNN: the originals, then ``p.copies`` variants of each.

    Returns ``images``, ``ids`` (``<id>`` for originals, ``<id>#aug<c>`` for
    copies), ``labels`` and ``source`` (row of the original each image came from).
    """
    n = len(images)
    rng = np.random.default_rng(p.seed)
    trips = np.random.default_rng([p.seed, 1])
    out = np.empty((n * (1 + p.copies), *images.shape[1:]), dtype=np.uint8)
    out[:n] = images
    for copy in range(1, p.copies + 1):
        for i in range(n):
            out[copy * n + i] = travel(augment_image(images[i], rng, p), trips, p)
    copies = range(1, p.copies + 1)
    return {
        "images": out,
        "ids": np.concatenate([ids, *[np.char.add(ids, f"#aug{c}") for c in copies]]),
        "labels": np.tile(labels, 1 + p.copies),
        "source": np.tile(np.arange(n), 1 + p.copies),
    }
