"""How images travel: the one function that re-encodes or resizes an image as it would be
on its way to the model (a JPEG save, a thumbnail and back), and the conditions that
``benchmarks/robustness.py`` measures the model under.

Every degradation is a round trip through Pillow, imported when first needed (it comes
with matplotlib):

- ``none``: the image unchanged (the competition's PNG as it is);
- ``webp_lossless``: saved as lossless WebP and decoded (the control: no pixel changes);
- ``jpeg``: saved as JPEG of quality ``value`` (1-100) with Pillow's defaults (4:2:0
  chroma subsampling, no optimisation) and decoded;
- ``resize``: resized by the factor ``value`` with bicubic resampling (0.5: to 50x50)
  and back to the image's own size, bicubic again.

Each is deterministic: the same image gives the same pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

KINDS = ("none", "webp_lossless", "jpeg", "resize")


@dataclass(frozen=True)
class Condition:
    """One way an image travels: a name for tables, the :func:`degrade` kind and value."""

    name: str
    kind: str
    value: float | None = None


# The robustness benchmark's conditions, in its table's order.
CONDITIONS = (
    Condition("original PNG", "none"),
    Condition("lossless WebP", "webp_lossless"),
    Condition("JPEG 95", "jpeg", 95),
    Condition("JPEG 90", "jpeg", 90),
    Condition("JPEG 75", "jpeg", 75),
    Condition("JPEG 50", "jpeg", 50),
    Condition("resize 0.5x and back", "resize", 0.5),
    Condition("resize 2x and back", "resize", 2.0),
)


def degrade(image: np.ndarray, kind: str, value: float | None = None) -> np.ndarray:
    """``image`` (RGB uint8, (H, W, 3)) after the round trip ``kind`` (:data:`KINDS`)
    with its ``value`` (JPEG quality, resize factor; none for the others): a new RGB
    uint8 array of the same shape."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    if kind not in KINDS:
        raise ValueError(f"unknown degradation {kind!r} (kinds: {', '.join(KINDS)})")
    if kind in ("none", "webp_lossless") and value is not None:
        raise ValueError(f"degradation {kind!r} takes no value, got {value!r}")
    if kind == "none":
        return image.copy()

    from PIL import Image

    picture = Image.fromarray(image, "RGB")
    if kind == "resize":
        height, width = image.shape[:2]
        if value is None or not value > 0:
            raise ValueError(f"resize needs a factor > 0, got {value!r}")
        size = (max(1, round(width * value)), max(1, round(height * value)))
        there = picture.resize(size, Image.Resampling.BICUBIC)
        back = there.resize((width, height), Image.Resampling.BICUBIC)
        return np.asarray(back, dtype=np.uint8).copy()
    buffer = io.BytesIO()
    if kind == "jpeg":
        if value is None or int(value) != value or not 1 <= value <= 100:
            raise ValueError(f"jpeg needs a quality from 1 to 100, got {value!r}")
        picture.save(buffer, "JPEG", quality=int(value))
    else:
        picture.save(buffer, "WEBP", lossless=True)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8).copy()


def opencv_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` (RGB uint8) saved as JPEG of ``quality`` by OpenCV's own encoder (its
    defaults) and decoded: the other encoder people's images meet, beside Pillow's
    (:func:`degrade` ``jpeg``)."""
    import cv2

    bgr = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"OpenCV could not encode an image of shape {bgr.shape} as JPEG")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def degrade_all(images: np.ndarray, kind: str, value: float | None = None) -> np.ndarray:
    """:func:`degrade` of every image of a stack (N, H, W, 3)."""
    images = np.asarray(images)
    if len(images) == 0:
        return images.copy()
    return np.stack([degrade(image, kind, value) for image in images])
