"""Offline augmentation: seeded, label-preserving, and really different images."""

from __future__ import annotations

import cv2
import numpy as np
from conftest import REPO

from deepfake.augment import AugmentParams, augment_image, augment_split, travel
from deepfake.config import read_schema, section_defaults
from deepfake.degrade import degrade
from deepfake.traces import has_jpeg_traces


def augment_params(copies: int = 1, seed: int = 0, **given) -> AugmentParams:
    """The augment section with the schema's defaults, and the test's own choices."""
    defaults = section_defaults(read_schema(REPO / "schemas" / "config.schema.yaml"), "augment")
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


def test_trips_are_the_shared_degradations_and_leave_other_copies_unchanged(real_images):
    images, ids, labels = real_batch(real_images)
    still = {"hflip": False, "max_rotation_deg": 0, "max_shift_frac": 0, "min_crop_frac": 1}
    still |= {"brightness": 0, "contrast": 0}
    n = len(images)
    # Without trips, the copies are as before trips existed (their own random stream).
    plain = augment_split(images, ids, labels, augment_params(copies=2, seed=3))
    tripless = augment_split(images, ids, labels, augment_params(copies=2, seed=3, jpeg=0.0))
    np.testing.assert_array_equal(plain["images"], tripless["images"])
    # Every copy saved as JPEG at quality 90: exactly deepfake.degrade's JPEG of the image.
    jpeg = augment_params(copies=1, seed=3, jpeg=1.0, jpeg_quality=[90, 90], **still)
    out = augment_split(images, ids, labels, jpeg)["images"][n:]
    for copy, image in zip(out, images, strict=True):
        np.testing.assert_array_equal(copy, degrade(image, "jpeg", 90))
        assert has_jpeg_traces(copy) and not has_jpeg_traces(image)
    # Every copy resized by 2x and back, no JPEG: the resize round trip.
    resize = augment_params(copies=1, seed=3, resize=1.0, resize_factor=[2.0, 2.0], **still)
    out = augment_split(images, ids, labels, resize)["images"][n:]
    np.testing.assert_array_equal(out[0], degrade(images[0], "resize", 2.0))


def test_trip_probabilities_and_ranges_hold():
    image = np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    p = augment_params(jpeg=0.5, jpeg_quality=[60, 80], resize=0.25, resize_factor=[0.5, 2])
    rng = np.random.default_rng(1)
    changed = [not np.array_equal(travel(image, rng, p), image) for _ in range(400)]
    # changed unless neither fires: 1 - 0.5 * 0.75 = 0.625
    assert 0.55 < np.mean(changed) < 0.7
