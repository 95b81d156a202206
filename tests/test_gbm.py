"""The gradient-boosted model: fitted on descriptors, saved, loaded, the same numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import separable
from threadpoolctl import threadpool_limits

from deepfake.families import load
from deepfake.features import descriptor
from deepfake.gbm_model import GbmModel

PARAMS = {"max_iter": 20, "learning_rate": 0.2, "max_leaf_nodes": 7, "l2_regularization": 0.0,
          "seed": 0}  # fmt: skip
DESCRIPTORS = ("hsv8", "cooc")


@pytest.fixture(scope="module")
def data():
    return separable(150, seed=4), separable(40, seed=5)


def fit(train, threads=None):
    groups = [descriptor(d, train["image"]) for d in DESCRIPTORS]
    with threadpool_limits(threads):
        return GbmModel.fit(DESCRIPTORS, groups, train["label"], PARAMS)


def test_saved_model_predicts_new_images_as_it_was_fitted(data, tmp_path):
    train, new = data
    model = fit(train)
    model.save(tmp_path / "gbm" / "f")
    card = json.loads((tmp_path / "gbm" / "f" / "model.json").read_text())
    assert card["kind"] == "gbm" and card["descriptors"] == list(DESCRIPTORS)
    loaded = load(tmp_path / "gbm" / "f")
    expected = model.proba_from_descriptors([descriptor(d, new["image"]) for d in DESCRIPTORS])
    got = loaded.predict_proba(new["image"])
    assert got.shape == (40, 5) and got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    assert np.mean(got.argmax(1) == new["label"]) > 0.8  # separable colours


def test_fit_is_the_same_for_any_thread_count(data):
    train, new = data
    one, two = fit(train, threads=1), fit(train, threads=2)
    x = [descriptor(d, new["image"]) for d in DESCRIPTORS]
    np.testing.assert_array_equal(one.proba_from_descriptors(x), two.proba_from_descriptors(x))


def test_labels_missing_a_class_are_refused(data):
    train, _ = data
    keep = train["label"] != 4
    groups = [descriptor(d, train["image"][keep]) for d in DESCRIPTORS]
    with pytest.raises(ValueError, match="classes"):
        GbmModel.fit(DESCRIPTORS, groups, train["label"][keep], PARAMS)
