"""KNN grid: one neighbour search, the same votes as KNeighborsClassifier."""

from __future__ import annotations

import json
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import copy_run_with, load_config, snakemake
from sklearn.neighbors import KNeighborsClassifier

from deepfake.descriptors import descriptor, hsv_histograms, pixel_descriptor
from deepfake.families import FAMILIES
from deepfake.knn_search import (
    best_k,
    choose_combination,
    coarse_images,
    cross_validate_combination,
    float_neighbours,
    knn_grid,
    knn_proba,
    nearest,
    pixel_neighbours,
    pruned_pixel_neighbours,
    weight_grid,
)
from deepfake.model_job import run_job

KS = [1, 3, 5, 7, 9, 11]
WEIGHTS = ["uniform", "distance"]


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


@pytest.mark.parametrize("knn", ["hsv", "pixels"])
def test_grid_votes_equal_kneighborsclassifier_refit_per_k(real_sets, knn):
    train, train_y, query, query_y = real_sets
    if knn == "hsv":
        train_x, query_x = hsv_histograms(train, 16), hsv_histograms(query, 16)
    else:
        train_x, query_x = pixel_descriptor(train), pixel_descriptor(query)
    grid, proba = knn_grid(train_x, train_y, query_x, query_y, KS, WEIGHTS)
    assert len(grid) == len(KS) * len(WEIGHTS)
    for k in KS:
        for weights in WEIGHTS:
            reference = KNeighborsClassifier(n_neighbors=k, weights=weights, metric="manhattan")
            reference.fit(train_x.astype(np.float64), train_y)
            expected = reference.predict_proba(query_x.astype(np.float64))
            message = f"k={k} weights={weights}"
            np.testing.assert_allclose(proba[(k, weights)], expected, atol=1e-6, err_msg=message)
            row = grid.loc[(grid["k"] == k) & (grid["weights"] == weights)]
            assert row["val_accuracy"].item() == pytest.approx(
                np.mean(reference.predict(query_x) == query_y)
            )
            np.testing.assert_allclose(
                knn_proba(train_x, train_y, query_x, k, weights), expected, atol=1e-6
            )


def test_distance_votes_of_exact_duplicates_follow_scikit_learn(real_sets):
    train, train_y, query, _ = real_sets
    train_x, query_x = hsv_histograms(train, 8), hsv_histograms(query, 8)
    query_x[:3] = train_x[[0, 20, 40]]  # distance 0 to a training row: only it votes
    reference = KNeighborsClassifier(n_neighbors=5, weights="distance", metric="manhattan")
    expected = reference.fit(train_x, train_y).predict_proba(query_x)
    got = knn_proba(train_x, train_y, query_x, 5, "distance")
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_array_equal(got[:3].argmax(1), train_y[[0, 20, 40]])


def test_uint8_search_matches_float_manhattan(real_sets):
    train, _, query, _ = real_sets
    fast = nearest(pixel_descriptor(train), pixel_descriptor(query), 5)
    slow = nearest(pixel_descriptor(train).astype(np.float32), pixel_descriptor(query), 5)
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize("pruned", [False, True])
@pytest.mark.parametrize(("train_chunk", "query_block"), [(7, 9), (16, 512), (60, 1)])
def test_pixel_search_returns_brute_force_neighbours_for_every_k(
    real_sets, train_chunk, query_block, pruned
):
    train, _, query, _ = real_sets
    train_x, query_x = pixel_descriptor(train), pixel_descriptor(query)
    wide = train_x.astype(np.int32)
    brute = np.stack([np.abs(wide - q).sum(axis=1) for q in query_x.astype(np.int32)])
    for k in KS + [len(train_x)]:
        if pruned:
            dist, index = pruned_pixel_neighbours(
                train_x, query_x, k, (100, 100, 3), train_chunk, query_block
            )
        else:
            dist, index = pixel_neighbours(train_x, query_x, k, train_chunk, query_block)
        expected = np.argsort(brute, axis=1, kind="stable")[:, :k]  # ties: lower row first
        np.testing.assert_array_equal(index, expected, err_msg=f"k={k}")
        np.testing.assert_array_equal(dist, np.take_along_axis(brute, expected, axis=1))


def test_pixel_search_breaks_ties_by_training_row(real_sets):
    train, _, query, _ = real_sets
    train_x = pixel_descriptor(np.concatenate([train[:5], train[:5]]))  # rows i and i + 5 tie
    expected = np.c_[np.arange(5), np.arange(5) + 5]
    _, index = pixel_neighbours(train_x, pixel_descriptor(train[:5]), 2, train_chunk=3)
    np.testing.assert_array_equal(index, expected)
    _, index = pruned_pixel_neighbours(train_x, pixel_descriptor(train[:5]), 2, (100, 100, 3))
    np.testing.assert_array_equal(index, expected)


def test_coarse_bound_never_exceeds_the_full_distance(real_sets):
    train, _, query, _ = real_sets
    train_x, query_x = pixel_descriptor(train), pixel_descriptor(query)
    coarse_train, coarse_query = (coarse_images(x, (100, 100, 3)) for x in (train_x, query_x))
    for q, cq in zip(query_x.astype(np.int32), coarse_query.astype(np.int32), strict=True):
        full = np.abs(train_x.astype(np.int32) - q).sum(axis=1)
        bound = 4 * np.abs(coarse_train.astype(np.int32) - cq).sum(axis=1) - 4 * 7500
        assert (bound <= full).all()
        assert (bound > 0.8 * full).mean() > 0.5  # and it is tight enough to prune


def test_coarse_means_are_within_half_a_level_of_the_block_sums(real_images):
    rng = np.random.default_rng(0)
    real = np.stack([cv2.imread(str(p)) for p in real_images[2][:10]])
    for images in (real, rng.integers(0, 256, (10, 100, 100, 3), dtype=np.uint8)):
        sums = images.reshape(10, 50, 2, 50, 2, 3).sum(axis=(2, 4), dtype=np.int64)
        means = coarse_images(pixel_descriptor(images), (100, 100, 3)).reshape(sums.shape)
        assert np.abs(sums - 4 * means.astype(np.int64)).max() <= 2


def test_separable_rows_are_classified_perfectly():
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 100, size=(5, 8))
    train_y, val_y = np.repeat(np.arange(5), 20), np.repeat(np.arange(5), 10)
    train_x = centres[train_y] + rng.normal(0, 0.5, (100, 8))
    val_x = centres[val_y] + rng.normal(0, 0.5, (50, 8))
    grid, proba = knn_grid(train_x, train_y, val_x, val_y, [3, 5, 11])
    assert (grid["val_accuracy"] == 1.0).all()
    assert proba[(3, "uniform")].shape == (50, 5)
    np.testing.assert_allclose(proba[(11, "uniform")].sum(axis=1), 1.0)


def test_best_k_prefers_accuracy_then_the_smallest_k():
    grid = pd.DataFrame(
        {
            "k": [3, 3, 5, 5, 7, 7],
            "weights": WEIGHTS * 3,
            "val_accuracy": [0.5, 0.6, 0.6, 0.7, 0.7, 0.6],
        }
    )
    assert best_k(grid) == (5, "distance")


def test_k_larger_than_the_training_set_is_refused():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="training size"):
        knn_grid(x, np.arange(4), x, np.arange(4), [3, 5])


def groups_of(images):
    return [descriptor(name, images) for name in ("jointhsv", "spectrum", "lbp")]


def run_knn_script(tmp_path, train, train_y, val, val_y, test, knn="combo", threads=1):
    """The shared model job (what scripts/model.py runs) of a KNN on one descriptor
    (default: the combination), on inputs written here (so that a test can change one of
    them); returns its metrics."""
    from snakemake.iocontainers import Namedlist

    inputs = {}
    groups = ("jointhsv", "spectrum", "lbp") if knn == "combo" else (knn,)
    tmp_path.mkdir(parents=True)
    for split, images, labels in (
        ("train", train, train_y),
        ("validation", val, val_y),
        ("test", test, np.full(len(test), -1)),
    ):
        inputs[f"{split}_arrays"] = str(tmp_path / f"{split}.npz")
        np.savez(inputs[f"{split}_arrays"], images=images, labels=labels)
        inputs[f"{split}_descriptors"] = []
        for name in groups if knn != "pixels" else ():
            inputs[f"{split}_descriptors"].append(str(tmp_path / f"{name}_{split}.npy"))
            np.save(inputs[f"{split}_descriptors"][-1], descriptor(name, images))
    out = tmp_path / "out"
    settings = {"k": [1, 3, 5], "weights": WEIGHTS}
    if knn == "combo":
        settings["combination"] = {
            "groups": list(groups),
            "group_weights": [0, 0.5, 1],
            "folds": 3,
            "seed": 0,
        }
    smk = SimpleNamespace(
        input=Namedlist(fromdict=inputs),
        output=SimpleNamespace(
            holdout_proba=str(out / "holdout_proba.npy"),
            card=str(out / "model.json"),
            reference=str(out / "reference.npz"),
            grid=str(out / "grid.csv"),
            val_proba=str(out / "val_proba.npy"),
            test_proba=str(out / "test_proba.npy"),
            metrics=str(out / "metrics.json"),
        ),
        wildcards=SimpleNamespace(name=knn),
        params=SimpleNamespace(
            family="knn",
            descriptors=list(groups),
            settings=settings,
            data={"data_dir": "demo", "demo": True},
        ),
        threads=threads,
    )
    run_job(smk, FAMILIES["knn"])
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("knn", ["hsv16", "jointhsv", "spectrum", "lbp", "pixels", "combo"])
def test_neighbours_and_votes_do_not_depend_on_the_thread_count(real_sets, tmp_path, knn):
    """Histograms are quantised: many rows lie at equal distances, so the tie-breaking is
    tested too. One thread and four give the same probabilities, to the bit."""
    train, train_y, query, query_y = real_sets
    val, val_y, test = query[::2], query_y[::2], query[1::2]
    one = run_knn_script(tmp_path / "one", train, train_y, val, val_y, test, knn, 1)
    four = run_knn_script(tmp_path / "four", train, train_y, val, val_y, test, knn, 4)
    assert one["best_k"] == four["best_k"] and one["voting"] == four["voting"]
    for name in ("val_proba.npy", "test_proba.npy"):
        a, b = (np.load(tmp_path / run / "out" / name) for run in ("one", "four"))
        np.testing.assert_array_equal(a, b)


def test_float_search_orders_ties_by_training_row():
    train = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [2.0, 2.0]])
    query = np.array([[0.5, 0.5], [0.0, 1.0]])
    # distances: query 0 -> 1, 1, 0, 1, 3; query 1 -> 0, 2, 1, 0, 3
    for threads in (1, 2):
        dist, index = float_neighbours(train, query, 3, threads=threads, query_block=1)
        np.testing.assert_array_equal(index, [[2, 0, 1], [0, 3, 2]])
        np.testing.assert_array_equal(dist, [[0, 1, 1], [0, 0, 1]])


def test_combination_choice_ignores_validation_labels(real_sets, tmp_path):
    train, train_y, query, query_y = real_sets
    val, val_y, test = query[::2], query_y[::2], query[1::2]
    metrics = run_knn_script(tmp_path / "a", train, train_y, val, val_y, test)
    chosen = ("group_weights", "best_k", "voting", "cv_accuracy", "group_scales")
    assert metrics["cv_folds"] == 3 and metrics["cv_accuracy"] > 0.2
    # Wrong validation labels change the validation score only, never the choice.
    wrong = (val_y + 1) % 5
    again = run_knn_script(tmp_path / "b", train, train_y, val, wrong, test)
    assert {c: again[c] for c in chosen} == {c: metrics[c] for c in chosen}
    assert again["val_accuracy"] != metrics["val_accuracy"]
    grid = pd.read_csv(tmp_path / "a" / "out" / "grid.csv")
    assert len(grid) == len(weight_grid(3, [0, 0.5, 1])) * 3 * 2 == 54


def test_cross_validation_finds_the_informative_group():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(5), 30)
    noise = rng.normal(0, 1, (150, 6))  # first group: no information
    signal = np.eye(5)[y] * 3 + rng.normal(0, 0.3, (150, 5))
    cv = cross_validate_combination([noise, signal], y, [3], ["uniform"], [0, 1, 4], 3, 0)
    accuracy = {tuple(w): a for w, a in zip(cv["group_weights"], cv["cv_accuracy"], strict=True)}
    assert accuracy[(1.0, 4.0)] > 0.9 and accuracy[(1.0, 0.0)] < 0.5
    assert choose_combination(cv)["group_weights"] != [1.0, 0.0]


@pytest.mark.slow
def test_workflow_runs_descriptor_and_combination_knn_with_default_settings(
    tiny_run_shared, tmp_path
):
    config = load_config("tiny")  # no knn.weights nor knn.combination: schema defaults
    config["knn"]["descriptors"] = ["spectrum", "combo"]
    workdir = copy_run_with(tiny_run_shared, tmp_path / "wf", config)
    targets = [f"results/knn/{f}/metrics.json" for f in ("spectrum", "combo")]
    snakemake(workdir, *targets)
    for name in ("jointhsv", "spectrum", "lbp"):
        values = np.load(workdir / "results" / "descriptors" / name / "validation.npy")
        assert values.dtype == np.float32 and len(values) == 50
    combo = json.loads((workdir / "results/knn/combo/metrics.json").read_text())
    assert combo["groups"] == ["jointhsv", "spectrum", "lbp"] and combo["cv_folds"] == 3
    assert combo["group_weights"][0] == 1.0 and combo["voting"] == "uniform"
    assert combo["best_k"] in (3, 5) and 0 <= combo["val_accuracy"] <= 1
    spectrum = json.loads((workdir / "results/knn/spectrum/metrics.json").read_text())
    assert spectrum["inputs"] == "spectrum" and spectrum["n_val"] == 50
