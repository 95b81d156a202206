"""How images travel (deepfake.degrade), and the robustness benchmark's pure parts: its
measures and its refusal of a model whose card says it was trained on the images it is
asked to score."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from deepfake.datafolder import data_record, folder_manifest
from deepfake.degrade import CONDITIONS, KINDS, degrade, degrade_all

BENCHMARKS = REPO / "benchmarks"


def picture(seed: int = 0, side: int = 100) -> np.ndarray:
    """A seeded RGB uint8 image with smooth parts and fine detail (JPEG's hard case)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side]
    smooth = np.stack([x * 2, y * 2, (x + y)], axis=-1).astype(float)
    return np.clip(smooth + rng.normal(0, 20, (side, side, 3)), 0, 255).astype(np.uint8)


def test_jpeg_changes_pixels_even_at_quality_95():
    image = picture()
    for quality in (95, 50):
        out = degrade(image, "jpeg", quality)
        assert (out != image).any(), quality
    # lower quality, further from the original
    error = {q: np.abs(degrade(image, "jpeg", q).astype(int) - image).mean() for q in (95, 50)}
    assert error[50] > error[95] > 0


def test_lossless_webp_and_none_change_no_pixel():
    image = picture(1)
    np.testing.assert_array_equal(degrade(image, "webp_lossless"), image)
    same = degrade(image, "none")
    np.testing.assert_array_equal(same, image)
    assert same is not image  # a new array, never the caller's


@pytest.mark.parametrize("factor", [0.5, 2.0, 0.37])
def test_resize_round_trip_of_a_constant_image_is_the_identity(factor):
    image = np.full((100, 100, 3), (200, 13, 77), np.uint8)
    np.testing.assert_array_equal(degrade(image, "resize", factor), image)
    assert (degrade(picture(2), "resize", factor) != picture(2)).any()


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: c.name)
def test_every_condition_gives_rgb_uint8_of_the_same_shape_deterministically(condition):
    image = picture(3)
    out = degrade(image, condition.kind, condition.value)
    assert out.shape == (100, 100, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, degrade(image.copy(), condition.kind, condition.value))
    np.testing.assert_array_equal(image, picture(3))  # the input is left alone


def test_the_conditions_cover_the_kinds_once_each_name():
    names = [c.name for c in CONDITIONS]
    assert len(set(names)) == len(names)
    assert {c.kind for c in CONDITIONS} == set(KINDS)
    assert [c.value for c in CONDITIONS if c.kind == "jpeg"] == [95, 90, 75, 50]
    assert sorted(c.value for c in CONDITIONS if c.kind == "resize") == [0.5, 2.0]


def test_a_stack_is_degraded_image_by_image():
    stack = np.stack([picture(4), picture(5)])
    out = degrade_all(stack, "jpeg", 75)
    assert out.shape == stack.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[1], degrade(picture(5), "jpeg", 75))
    assert degrade_all(stack[:0], "jpeg", 75).shape == (0, 100, 100, 3)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("gif", None, "unknown degradation 'gif' \\(kinds: none, webp_lossless, jpeg, resize\\)"),
        ("jpeg", None, "quality from 1 to 100"),
        ("jpeg", 101, "quality from 1 to 100"),
        ("jpeg", 90.5, "quality from 1 to 100"),
        ("resize", 0, "factor > 0"),
        ("resize", None, "factor > 0"),
        ("webp_lossless", 90, "takes no value"),
    ],
)
def test_a_wrong_kind_or_value_is_a_clear_error(kind, value, message):
    with pytest.raises(ValueError, match=message):
        degrade(picture(), kind, value)


def test_only_rgb_uint8_images_are_taken():
    with pytest.raises(ValueError, match="RGB uint8"):
        degrade(picture().astype(np.float32), "jpeg", 90)
    with pytest.raises(ValueError, match="RGB uint8"):
        degrade(picture()[:, :, 0], "jpeg", 90)


# --------------------------------------------------------------------- the benchmark


@pytest.fixture(scope="module")
def robustness():
    """benchmarks/robustness.py as a module (its harness on the module path, as when the
    benchmark runs as a script)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("robustness", BENCHMARKS / "robustness.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))
        sys.modules.pop("harness", None)


def data_folder(root, train=("a", "b", "c"), validation=("d", "e")):
    """A data folder in the competition's layout with tiny stand-in files."""
    for split, ids in (("train", train), ("validation", validation), ("test", validation)):
        (root / split).mkdir(parents=True)
        for i in ids:
            (root / split / f"{i}.png").write_bytes(i.encode() * 3)
        labels = "" if split == "test" else ",0"
        lines = ["image_id" + (",label" if labels else "")] + [f"{i}{labels}" for i in ids]
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return root


def test_a_model_trained_on_the_folder_s_training_images_alone_is_scored(robustness, tmp_path):
    folder = data_folder(tmp_path / "dev")
    fair, why = robustness.held_out(data_record(str(folder)), folder)
    assert fair and "this folder's training images" in why
    # shipped: the folder's name instead of its path, the same fingerprint
    shipped = data_record(str(folder)) | {"data_dir": "dev"}
    assert robustness.held_out(shipped, folder)[0]
    fair, why = robustness.held_out({"data_dir": "demo", "demo": True}, folder)
    assert fair and "synthetic demo set" in why


def test_a_model_trained_on_the_images_it_would_score_is_refused(robustness, tmp_path):
    folder = data_folder(tmp_path / "dev")
    refit = data_record(str(folder), refit=True)
    fair, why = robustness.held_out(refit, folder)
    assert not fair and "validation_in_training" in why
    # shipped (the folder's name only), the same folder made again elsewhere (links)
    again = tmp_path / "again"
    for split in ("train", "validation"):
        (again / split).mkdir(parents=True)
        for path in (folder / split).iterdir():
            (again / split / path.name).symlink_to(path)
    assert not robustness.held_out(refit | {"data_dir": "dev"}, again)[0]
    # trained on all of this folder's labelled images (its training images are another
    # folder's, holding the same files), or on exactly its validation images
    every = tmp_path / "every"
    (every / "train").mkdir(parents=True)
    for split in ("train", "validation"):
        for path in (folder / split).iterdir():
            (every / "train" / path.name).symlink_to(path)
    fair, why = robustness.held_out(data_record(str(every)), folder)
    assert not fair and "training and validation images together" in why
    record = {"data_dir": "x", "demo": False, "train": folder_manifest(folder / "validation")}
    fair, why = robustness.held_out(record, folder)
    assert not fair and "this folder's validation images" in why


def test_a_card_that_cannot_tell_is_refused(robustness, tmp_path):
    folder = data_folder(tmp_path / "dev")
    for data in (None, {}, {"data_dir": "dev", "demo": False}):
        fair, why = robustness.held_out(data, folder)
        assert not fair and "cannot tell" in why, data
    other = data_folder(tmp_path / "other", train=("f", "g"), validation=("h",))
    refit = data_record(str(other), refit=True)
    assert robustness.held_out(refit, folder)[0]  # another folder's refit: not these
    no_fingerprint = {k: v for k, v in refit.items() if k != "validation"}
    fair, why = robustness.held_out(no_fingerprint | {"data_dir": "other"}, folder)
    assert not fair and "cannot tell" in why
    demo_refit = {"data_dir": "demo", "demo": True, "validation_in_training": True}
    assert not robustness.held_out(demo_refit, folder)[0]


def test_the_benchmark_exits_2_on_a_refused_model(tmp_path):
    folder = data_folder(tmp_path / "dev")
    model = tmp_path / "model"
    model.mkdir()
    card = {"format": 2, "family": "knn", "temperature": 1.0,
            "data": data_record(str(folder), refit=True)}  # fmt: skip
    (model / "model.json").write_text(json.dumps(card))
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "robustness.py"), "--model", str(model),
         "--data", str(folder)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "refused" in done.stderr and "validation_in_training" in done.stderr
    assert done.stdout == ""  # nothing loaded, nothing measured


def test_measures_of_a_hand_made_answer(robustness):
    proba = np.array([[0.9, 0.1, 0, 0, 0], [0.2, 0.7, 0.1, 0, 0], [0.6, 0.4, 0, 0, 0]])
    labels = np.array([0, 1, 1])
    m = robustness.measures(proba, labels, np.array([False, True, False]))
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["unknown_share"] == pytest.approx(1 / 3)
    assert m["wrong_mean_top_proba"] == pytest.approx(0.6)
    assert m["ece"] >= 0
    clean = robustness.measures(proba[:2], labels[:2], None)
    assert clean["unknown_share"] is None and clean["wrong_mean_top_proba"] is None
    row = robustness.row_text("JPEG 90", clean, 3.2)
    assert row == ["JPEG 90", "1.000", f"{clean['ece']:.3f}", "-", "-", "3"]
