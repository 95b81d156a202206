"""The gradient-boosted model: fitted on descriptors, saved as plain arrays, loaded, the
same numbers; its numpy walk of the trees gives scikit-learn's probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import separable
from threadpoolctl import threadpool_limits

from deepfake import layout
from deepfake.descriptors import descriptor
from deepfake.families import load
from deepfake.gbm_model import Forest, GbmModel

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
    assert card["family"] == "gbm" and card["descriptors"] == list(DESCRIPTORS)
    assert card["trees"] == layout.TREES
    assert sorted(p.name for p in (tmp_path / "gbm" / "f").iterdir()) == [
        "model.json",
        layout.TREES,
    ]
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


def sklearn_fit(x, y, **settings):
    from sklearn.ensemble import HistGradientBoostingClassifier

    settings = {"max_iter": 15, "max_leaf_nodes": 15, "early_stopping": False,
                "random_state": 0} | settings  # fmt: skip
    return HistGradientBoostingClassifier(**settings).fit(x, y)


def test_the_numpy_trees_give_scikit_learns_probabilities_with_missing_values():
    """Rows with NaN (seen in training on some features, never on others) and
    infinities: every node sends them where scikit-learn does."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0.5) + (x[:, 2] > 1.2)
    x[rng.random(x.shape) < 0.1 * (np.arange(8) % 2)] = np.nan  # odd features only
    estimator = sklearn_fit(x, y)
    new = rng.normal(size=(500, 8)).astype(np.float32)
    new[rng.random(new.shape) < 0.15] = np.nan  # every feature
    new[:20, 3] = np.inf
    new[20:40, 4] = -np.inf
    forest = Forest.from_estimator(estimator)
    got = forest.predict_proba(new)
    np.testing.assert_allclose(got, estimator.predict_proba(new), rtol=0, atol=1e-6)
    assert np.isnan(new).any(axis=1).mean() > 0.5 and forest.levels > 1


def test_the_numpy_trees_give_scikit_learns_probabilities_on_descriptors(data):
    """The workflow's own rows (descriptors side by side, float32) and its settings."""
    train, new = data
    x = GbmModel.stack([descriptor(d, train["image"]) for d in DESCRIPTORS])
    estimator = sklearn_fit(x, train["label"], max_iter=30, max_leaf_nodes=31)
    rows = GbmModel.stack([descriptor(d, new["image"]) for d in DESCRIPTORS])
    rows = np.concatenate([rows, x])
    got = Forest.from_estimator(estimator).predict_proba(rows)
    np.testing.assert_allclose(got, estimator.predict_proba(rows), rtol=0, atol=1e-6)


def test_the_numpy_walk_is_the_same_in_chunks(data, monkeypatch):
    train, new = data
    model = fit(train)
    x = [descriptor(d, new["image"]) for d in DESCRIPTORS]
    whole = model.proba_from_descriptors(x)
    monkeypatch.setattr("deepfake.gbm_model.ROWS_TIMES_TREES", 7 * len(model.forest.roots))
    np.testing.assert_array_equal(model.proba_from_descriptors(x), whole)


def test_saved_trees_read_back_exactly(data, tmp_path):
    train, _ = data
    forest = fit(train).forest
    forest.save(tmp_path / "trees.npz")
    with np.load(tmp_path / "trees.npz", allow_pickle=False) as saved:
        assert all(saved[name].dtype.kind in "biuf" for name in saved.files)
    again = Forest.load(tmp_path / "trees.npz")
    for name, array in forest.arrays().items():
        got = again.arrays()[name]
        assert got.dtype == array.dtype, name
        np.testing.assert_array_equal(got, array, err_msg=name)
    assert again.levels == forest.levels


def test_trees_that_do_not_hold_together_are_refused(data, tmp_path):
    train, _ = data
    arrays = fit(train).forest.arrays()
    inner = int(np.flatnonzero(~arrays["is_leaf"])[0])
    broken = {
        "a child out of range": {"left": np.where(np.arange(len(arrays["left"])) == inner,
                                                  10**6, arrays["left"])},
        "a feature out of range": {"feature": arrays["feature"] + 10**6},
        "a loop": {"left": np.where(np.arange(len(arrays["left"])) == inner, inner,
                                    arrays["left"])},
        "objects": {"value": arrays["value"].astype(object)},
    }  # fmt: skip
    for what, change in broken.items():
        path = tmp_path / f"{what.replace(' ', '_')}.npz"
        np.savez(path, **(arrays | change))  # objects: numpy pickles them into the file
        with pytest.raises(ValueError, match="Retrain"):
            Forest.load(path)


@pytest.mark.slow
def test_workflow_gbm_learns_from_the_augmented_set_when_asked(every_model_shared):
    """The every-model run's trees learn from the stored augmented training set (its
    copies on JPEG and resize trips): its metrics say so, and they are the trees of the
    augmented set's descriptors."""
    results = every_model_shared / "results"
    metrics = json.loads((results / "gbm/fingerprints/metrics.json").read_text())
    with np.load(results / "arrays/train_aug.npz") as arrays:
        labels, ids = arrays["labels"], arrays["ids"]
    with np.load(results / "arrays/fit.npz") as arrays:
        n_fit = len(arrays["labels"])
    assert len(labels) == 2 * n_fit and metrics["n_train"] == len(labels)  # originals, copies
    assert metrics["params"]["augmented"] is True
    groups = [np.load(results / f"descriptors/{d}/train_aug.npy") for d in ("hsv16", "cooc")]
    expected = GbmModel.fit(("hsv16", "cooc"), groups, labels, metrics["params"])
    validation = [np.load(results / f"descriptors/{d}/validation.npy") for d in ("hsv16", "cooc")]
    model = load(results / "gbm/fingerprints")
    np.testing.assert_array_equal(
        model.proba_from_descriptors(validation), expected.proba_from_descriptors(validation)
    )
    assert str(ids[n_fit]).endswith("#aug1")
