"""Offline augmentation: seeded, label-preserving, and really different images."""

from __future__ import annotations

import cv2
import numpy as np
import yaml
from conftest import REPO

from deepfake.augment import AugmentParams, augment_image, augment_split


def augment_params(copies: int = 1, seed: int = 0, **given) -> AugmentParams:
    """The augment section with the schema's defaults, and the test's own choices."""
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    section = schema["properties"]["augment"]["properties"]
    defaults = {key: spec["default"] for key, spec in section.items() if "default" in spec}
    return AugmentParams(**(defaults | {"copies": copies, "seed": seed} | given))


def real_batch(real_images, per_class=2):
    paths = [p for label in sorted(real_images) for p in real_images[label][:per_class]]
    images = np.stack([cv2.imread(str(p))[:, :, ::-1] for p in paths])
    ids = np.array([p.stem for p in paths])
    labels = np.repeat(np.arange(5), per_class)
    return images, ids, labels


def test_layout_originals_first_then_copies(real_images):
    images, ids, labels = real_batch(real_images)
    out = augment_split(images, ids, labels, augment_params(copies=2, seed=1))
    n = len(images)
    assert out["images"].shape == (3 * n, 100, 100, 3) and out["images"].dtype == np.uint8
    np.testing.assert_array_equal(out["images"][:n], images)
    np.testing.assert_array_equal(out["labels"], np.tile(labels, 3))
    np.testing.assert_array_equal(out["source"], np.tile(np.arange(n), 3))
    assert out["ids"][n] == f"{ids[0]}#aug1" and out["ids"][2 * n + 1] == f"{ids[1]}#aug2"
    assert len(set(out["ids"])) == 3 * n


def test_copies_differ_from_originals_but_stay_close(real_images):
    images, ids, labels = real_batch(real_images)
    out = augment_split(images, ids, labels, augment_params(copies=1, seed=1))
    n = len(images)
    diff = np.abs(out["images"][n:].astype(int) - images.astype(int)).mean(axis=(1, 2, 3))
    assert (diff > 0.5).all()  # every copy changed
    # Colour statistics survive: mean colour moves by little more than the brightness range.
    shift = np.abs(out["images"][n:].mean(axis=(1, 2)) - images.mean(axis=(1, 2)))
    assert shift.max() < 0.1 * 255 + 15


def test_same_seed_same_copies_other_seed_other_copies(real_images):
    images, ids, labels = real_batch(real_images)
    first = augment_split(images, ids, labels, augment_params(copies=1, seed=5))
    again = augment_split(images, ids, labels, augment_params(copies=1, seed=5))
    other = augment_split(images, ids, labels, augment_params(copies=1, seed=6))
    np.testing.assert_array_equal(first["images"], again["images"])
    assert not np.array_equal(first["images"], other["images"])


def test_identity_parameters_give_the_image_back(real_images):
    images, _, _ = real_batch(real_images, per_class=1)
    identity = augment_params(
        copies=1, hflip=False, max_rotation_deg=0, max_shift_frac=0,
        min_crop_frac=1, brightness=0, contrast=0,
    )  # fmt: skip
    out = augment_image(images[0], np.random.default_rng(0), identity)
    np.testing.assert_array_equal(out, images[0])


def test_brightness_saturates_instead_of_wrapping():
    white = np.full((100, 100, 3), 250, dtype=np.uint8)
    params = augment_params(hflip=False, max_rotation_deg=0, max_shift_frac=0, min_crop_frac=1,
                           brightness=0.5, contrast=0)  # fmt: skip
    rng = np.random.default_rng(0)
    outs = [augment_image(white, rng, params) for _ in range(20)]
    assert max(o.max() for o in outs) == 255  # clipped, no uint8 wrap-around to dark values
    assert min(o.min() for o in outs) >= 250 - 0.5 * 255 - 1


def test_no_copies_is_the_original_set(real_images):
    images, ids, labels = real_batch(real_images)
    out = augment_split(images, ids, labels, augment_params(copies=0))
    np.testing.assert_array_equal(out["images"], images)
