"""The unknown-image detector: images far from the training images score high, the
threshold comes from held-out training images, and a saved detector scores the same."""

from __future__ import annotations

import numpy as np
from conftest import separable

from deepfake.demo import generate_demo
from deepfake.descriptors import descriptor
from deepfake.unknowns import UnknownDetector, signed_log

NAMES = ("cooc", "crosscooc", "spectrum", "lbp")
OPEN_SET = (*NAMES, "jointhsv", "hsv16")  # the shipped recipe's detector's descriptors


def groups(images):
    return [descriptor(name, images) for name in NAMES]


def demo_images(tmp_path, n=50):
    import cv2

    generate_demo(tmp_path / "demo", 5, n, 5, seed=5)
    paths = sorted((tmp_path / "demo" / "validation").glob("*.png"))
    return np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths])


def test_a_detector_of_one_synthetic_set_calls_the_demo_unknown(tmp_path):
    """Fitted on noisy colour squares, it calls the demo's scenes unknown and lets most
    new squares of its own kind through."""
    own = separable(400, seed=0)["image"]
    detector = UnknownDetector.fit(NAMES, groups(own[:300]), groups(own[300:]), dims=8, k=5)
    scores, threshold = detector.score_rows(groups(own[300:]))
    assert threshold == detector.distance_threshold == np.quantile(scores, 0.99)
    new_own = separable(100, seed=1)["image"]
    scores, threshold = detector.score(new_own)
    assert np.mean(scores > threshold) <= 0.05
    scores, threshold = detector.score(demo_images(tmp_path))
    assert np.mean(scores > threshold) >= 0.95


def test_a_model_unsure_of_an_image_raises_its_score():
    """With a model, the score adds its standardised uncertainty to the standardised
    distance: the same image scores higher when the model is unsure of it."""
    own = separable(400, seed=3)["image"]
    rng = np.random.default_rng(0)
    sure = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 100)] * 0.9 + 0.02
    detector = UnknownDetector.fit(
        NAMES, groups(own[:300]), groups(own[300:]), dims=8, k=5,
        heldout_proba=sure, model="cnn/x",
    )  # fmt: skip
    assert detector.model == "cnn/x" and detector.threshold != detector.distance_threshold
    images = own[300:310]
    unsure = np.full((10, 5), 0.2, np.float32)
    confident, threshold = detector.score(images, sure[:10])
    doubtful, _ = detector.score(images, unsure)
    assert (doubtful > confident).all() and (doubtful > threshold).all()
    distance, distance_threshold = detector.score(images)  # without the model's probabilities
    assert distance_threshold == detector.distance_threshold


def test_a_saved_detector_scores_the_same(tmp_path):
    own = separable(120, seed=2)["image"]
    detector = UnknownDetector.fit(NAMES, groups(own[:100]), groups(own[100:]), dims=4, k=3)
    detector.save(tmp_path / "unknowns.npz")
    again = UnknownDetector.load(tmp_path / "unknowns.npz")
    np.testing.assert_array_equal(again.score(own[:10])[0], detector.score(own[:10])[0])
    assert again.distance_threshold == detector.distance_threshold
    assert again.descriptors == NAMES and again.model == ""


def test_the_signed_log_scale_takes_empty_cells_as_small_counts():
    values = signed_log(np.array([0.0, 1e-6, 0.5, -0.5]))
    assert values[0] < values[1] < values[2]  # 0 sits beside the smallest counts
    assert values[1] - values[0] < 0.01
    assert values[3] == -values[2]


def test_leaving_each_demo_generator_out_its_images_score_above_the_known_ones(tmp_path):
    """The open-set benchmark's measure (benchmarks/unknowns.py --leave-one-out) on the
    synthetic demo set, where each class has a made-up fingerprint of its own: for every
    class left out, the trees and the detector learn the other four, and the left-out
    class's validation images score well above the known classes' (AUROC)."""
    import importlib.util
    import sys

    import cv2
    import pandas as pd
    from conftest import REPO

    sys.path.insert(0, str(REPO / "benchmarks"))  # the benchmark reads its harness
    spec = importlib.util.spec_from_file_location(
        "unknowns_bench", REPO / "benchmarks" / "unknowns.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    generate_demo(tmp_path / "demo", 600, 300, 5, seed=9)

    def split(name):
        frame = pd.read_csv(tmp_path / "demo" / f"{name}.csv")
        images = np.stack([
            cv2.cvtColor(cv2.imread(str(tmp_path / "demo" / name / f"{i}.png")), cv2.COLOR_BGR2RGB)
            for i in frame["image_id"]
        ])  # fmt: skip
        return [descriptor(d, images) for d in OPEN_SET], frame["label"].to_numpy()

    train, validation = split("train"), split("validation")
    params = bench.schema_defaults("gbm") | {"max_iter": 30}
    for left_out in range(5):
        measures = bench.open_set(
            *train, *validation, left_out, list(OPEN_SET), params, {"dims": 8, "k": 5}
        )
        assert measures["AUROC score"] > 0.7, (left_out, measures)  # chance: 0.5
        assert measures["known accuracy"] > 0.8, (left_out, measures)
        assert 0 < measures["CCR at 10%"] <= measures["CCR at 5%"] <= 1, measures
