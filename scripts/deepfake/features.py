"""Image descriptors: HSV colour histograms and raw pixels."""

from __future__ import annotations

import re

import cv2
import numpy as np

# OpenCV's 8-bit HSV ranges: hue is 0..179 (degrees / 2), saturation and value 0..255.
HSV_RANGES = ((0, 180), (0, 256), (0, 256))


def hsv_histograms(images: np.ndarray, bins: int) -> np.ndarray:
    """HSV histograms of RGB uint8 images, ``bins`` per channel, each channel summing to 1.

    ``images`` is (N, H, W, 3); returns float32 (N, 3 * bins): hue bins, then
    saturation, then value.
    """
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (N, H, W, 3), got {images.dtype} {images.shape}")
    if bins < 1:
        raise ValueError(f"bins must be positive, got {bins}")
    n, height, width, _ = images.shape
    # One colour conversion for the whole array: stack the images into one tall image.
    hsv = cv2.cvtColor(images.reshape(n * height, width, 3), cv2.COLOR_RGB2HSV)
    hsv = hsv.reshape(n, height, width, 3)
    out = np.empty((n, 3 * bins), dtype=np.float32)
    for i in range(n):
        for channel, value_range in enumerate(HSV_RANGES):
            hist = cv2.calcHist([hsv[i]], [channel], None, [bins], value_range)
            out[i, channel * bins : (channel + 1) * bins] = hist.ravel()
    out /= height * width  # every pixel falls in exactly one bin per channel
    return out


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Raw pixels as uint8 vectors (N, H*W*3): Manhattan distances need no rescaling."""
    return np.ascontiguousarray(images.reshape(len(images), -1))


def parse_feature_name(name: str) -> tuple[str, int | None]:
    """``"hsv16"`` -> ("hsv", 16); ``"pixels"`` -> ("pixels", None)."""
    if name == "pixels":
        return "pixels", None
    match = re.fullmatch(r"hsv(\d+)", name)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"unknown feature set {name!r}: expected 'pixels' or 'hsv<bins>'")
    return "hsv", int(match.group(1))
