"""KNN grid: one neighbour search, the same votes as KNeighborsClassifier."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsClassifier

from deepfake.features import hsv_histograms, pixel_features
from deepfake.knn import best_k, knn_grid, knn_proba, nearest

KS = [1, 3, 5, 7, 9, 11]


@pytest.fixture(scope="module")
def real_sets(real_images):
    """Real images: 12 per class to train on, 8 per class to query."""
    images = {
        label: np.stack([cv2.imread(str(p))[:, :, ::-1] for p in paths])
        for label, paths in real_images.items()
    }
    train = np.concatenate([images[c][:12] for c in range(5)])
    query = np.concatenate([images[c][12:20] for c in range(5)])
    return train, np.repeat(np.arange(5), 12), query, np.repeat(np.arange(5), 8)


@pytest.mark.parametrize("features", ["hsv", "pixels"])
def test_grid_votes_equal_kneighborsclassifier_refit_per_k(real_sets, features):
    train, train_y, query, query_y = real_sets
    if features == "hsv":
        train_x, query_x = hsv_histograms(train, 16), hsv_histograms(query, 16)
    else:
        train_x, query_x = pixel_features(train), pixel_features(query)
    grid, proba = knn_grid(train_x, train_y, query_x, query_y, KS)
    for k in KS:
        reference = KNeighborsClassifier(n_neighbors=k, metric="manhattan")
        reference.fit(train_x.astype(np.float64), train_y)
        expected = reference.predict_proba(query_x.astype(np.float64))
        np.testing.assert_allclose(proba[k], expected, atol=1e-6, err_msg=f"k={k}")
        accuracy = grid.loc[grid["k"] == k, "val_accuracy"].item()
        assert accuracy == pytest.approx(np.mean(reference.predict(query_x) == query_y))
        np.testing.assert_allclose(knn_proba(train_x, train_y, query_x, k), expected, atol=1e-6)


def test_uint8_search_matches_float_manhattan(real_sets):
    train, _, query, _ = real_sets
    fast = nearest(pixel_features(train), pixel_features(query), 5)
    slow = nearest(pixel_features(train).astype(np.float32), pixel_features(query), 5)
    np.testing.assert_array_equal(fast, slow)


def test_separable_features_are_classified_perfectly():
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 100, size=(5, 8))
    train_y, val_y = np.repeat(np.arange(5), 20), np.repeat(np.arange(5), 10)
    train_x = centres[train_y] + rng.normal(0, 0.5, (100, 8))
    val_x = centres[val_y] + rng.normal(0, 0.5, (50, 8))
    grid, proba = knn_grid(train_x, train_y, val_x, val_y, [3, 5, 11])
    assert (grid["val_accuracy"] == 1.0).all()
    assert proba[3].shape == (50, 5)
    np.testing.assert_allclose(proba[11].sum(axis=1), 1.0)


def test_best_k_prefers_accuracy_then_the_smallest_k():
    grid = pd.DataFrame({"k": [3, 5, 7, 9], "val_accuracy": [0.5, 0.7, 0.7, 0.6]})
    assert best_k(grid) == 5


def test_k_larger_than_the_training_set_is_refused():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="training size"):
        knn_grid(x, np.arange(4), x, np.arange(4), [3, 5])
