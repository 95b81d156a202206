"""The synthetic demo data set: layout, determinism, class structure, argument checks."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sklearn.neighbors import KNeighborsClassifier

from deepfake import N_CLASSES
from deepfake.demo import MUTED_CLASS, SPLITS, apply_fingerprint, draw_content, generate_demo
from deepfake.descriptors import hsv_histograms

COUNTS = {"train": 50, "validation": 25, "test": 25}


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def hsv16(images_bgr: np.ndarray) -> np.ndarray:
    """The 48-value HSV histogram the KNN baseline uses."""
    return hsv_histograms(np.ascontiguousarray(images_bgr[..., ::-1]), bins=16)


def load_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    _, rows = read_csv(root / f"{split}.csv")
    images = np.stack([cv2.imread(str(root / split / f"{i}.png")) for i, _ in rows])
    return images, np.array([int(label) for _, label in rows])


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "data"
    generate_demo(out, COUNTS["train"], COUNTS["validation"], COUNTS["test"], seed=3)
    return out


@pytest.fixture(scope="module")
def medium(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_medium")
    generate_demo(out, 500, 250, 0, seed=7)
    return out


def test_layout_csvs_and_images(small):
    assert sorted(p.name for p in small.iterdir()) == sorted(
        [*SPLITS, *(f"{s}.csv" for s in SPLITS)]
    )
    all_ids = []
    for split, n in COUNTS.items():
        header, rows = read_csv(small / f"{split}.csv")
        ids = [row[0] for row in rows]
        if split == "test":
            assert header == ["image_id"]
            assert all(len(row) == 1 for row in rows)
        else:
            assert header == ["image_id", "label"]
            labels = [int(row[1]) for row in rows]
            assert np.bincount(labels, minlength=N_CLASSES).tolist() == [n // N_CLASSES] * 5
            assert labels != sorted(labels)  # shuffled, not grouped by class
        assert len(ids) == n
        for image_id in ids:
            assert not image_id.endswith(".png")
            assert uuid.UUID(image_id).version == 4
            assert str(uuid.UUID(image_id)) == image_id
        assert sorted(p.name for p in (small / split).iterdir()) == sorted(f"{i}.png" for i in ids)
        all_ids += ids
        for image_id in ids[:5]:
            image = cv2.imread(str(small / split / f"{image_id}.png"), cv2.IMREAD_UNCHANGED)
            assert image.shape == (100, 100, 3)
            assert image.dtype == np.uint8
    assert len(set(all_ids)) == len(all_ids)


def test_png_colour_order_is_rgb(medium):
    """An RGB reader sees class 0's warm cast as red and class 1's cool cast as blue.

    Catches BGR arrays written as if they were RGB (OpenCV's channel order).
    """
    _, rows = read_csv(medium / "train.csv")
    red_minus_blue = {0: [], 1: []}
    for image_id, label in rows:
        if int(label) in red_minus_blue:
            with Image.open(medium / "train" / f"{image_id}.png") as image:
                assert image.mode == "RGB"
                rgb = np.asarray(image, dtype=np.float64)
            red_minus_blue[int(label)].append(rgb[..., 0].mean() - rgb[..., 2].mean())
    assert np.mean(red_minus_blue[0]) > np.mean(red_minus_blue[1]) + 10


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path, small):
    again = tmp_path / "again"
    generate_demo(again, COUNTS["train"], COUNTS["validation"], COUNTS["test"], seed=3)
    for split in SPLITS:
        csv_bytes = (small / f"{split}.csv").read_bytes()
        assert (again / f"{split}.csv").read_bytes() == csv_bytes
        names = sorted(p.name for p in (small / split).iterdir())
        assert sorted(p.name for p in (again / split).iterdir()) == names
        for name in names[:4]:
            assert (again / split / name).read_bytes() == (small / split / name).read_bytes()

    other = tmp_path / "other"
    generate_demo(other, COUNTS["train"], COUNTS["validation"], COUNTS["test"], seed=4)
    assert (other / "train.csv").read_bytes() != (small / "train.csv").read_bytes()
    first = sorted((small / "train").iterdir())[0].read_bytes()
    assert all(p.read_bytes() != first for p in (other / "train").iterdir())


def test_existing_folder_is_fine_but_existing_outputs_are_not(tmp_path):
    out = tmp_path / "data"
    (out / ".snakemake_marker").mkdir(parents=True)
    generate_demo(out, 5, 5, 5, seed=0)
    assert (out / "test.csv").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(FileExistsError, match="train"):
        generate_demo(out, 5, 5, 5, seed=0)


def test_zero_images_gives_empty_split(tmp_path):
    generate_demo(tmp_path / "d", 5, 0, 0, seed=0)
    assert read_csv(tmp_path / "d" / "test.csv") == (["image_id"], [])
    assert list((tmp_path / "d" / "validation").iterdir()) == []


@pytest.mark.parametrize(
    "counts",
    [(7, 5, 5), (5, 12, 5), (5, 5, 3), (-5, 5, 5), (5, -10, 5), (5.0, 5, 5), (True, 5, 5)],
)
def test_bad_counts_raise_and_write_nothing(tmp_path, counts):
    with pytest.raises(ValueError, match="n_"):
        generate_demo(tmp_path / "d", *counts, seed=0)
    assert not (tmp_path / "d").exists()


def test_unknown_label_raises():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="label"):
        apply_fingerprint(draw_content(rng), N_CLASSES, rng)


def test_content_does_not_depend_on_the_class():
    """The same random stream gives the same content; only the fingerprint differs by class."""
    a = draw_content(np.random.default_rng(5))
    b = draw_content(np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    outs = [apply_fingerprint(a.copy(), label, np.random.default_rng(1)) for label in range(5)]
    for i in range(N_CLASSES):
        for j in range(i + 1, N_CLASSES):
            assert not np.array_equal(outs[i], outs[j])


def test_class_histograms_differ_and_muted_class_is_least_saturated(medium):
    images, labels = load_split(medium, "train")
    hists = hsv16(images)
    means = np.stack([hists[labels == c].mean(axis=0) for c in range(N_CLASSES)])
    for i in range(N_CLASSES):
        for j in range(i + 1, N_CLASSES):
            # L1 distance between class-mean histograms (3 channels, each sums to 1)
            assert np.abs(means[i] - means[j]).sum() > 0.5, (i, j)  # measured >= 0.97
    saturation = [
        np.mean([cv2.cvtColor(x, cv2.COLOR_BGR2HSV)[..., 1].mean() for x in images[labels == c]])
        for c in range(N_CLASSES)
    ]
    assert int(np.argmin(saturation)) == MUTED_CLASS


def test_histogram_knn_beats_chance_but_is_not_perfect(medium):
    x_train, y_train = load_split(medium, "train")
    x_val, y_val = load_split(medium, "validation")
    knn = KNeighborsClassifier(n_neighbors=7, metric="manhattan").fit(hsv16(x_train), y_train)
    pred = knn.predict(hsv16(x_val))
    accuracy = float((pred == y_val).mean())
    assert 0.4 < accuracy < 0.9  # measured 0.57-0.67 over seeds; chance is 0.2
    recall = np.array([(pred[y_val == c] == c).mean() for c in range(N_CLASSES)])
    others = np.delete(recall, MUTED_CLASS)
    assert recall[MUTED_CLASS] < others.mean()  # the muted class is the hardest
