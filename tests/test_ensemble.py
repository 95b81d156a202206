"""The ensemble model: equal-weight mean of its members, metrics, summary row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepfake import layout
from deepfake.ensemble import ensemble_metrics, mean_proba
from deepfake.evaluate import per_class_report, summarise, summary_row


def proba(n, seed):
    rng = np.random.default_rng(seed)
    p = rng.random((n, 5)).astype(np.float32)
    return p / p.sum(axis=1, keepdims=True)


def test_ensemble_is_the_mean_of_its_members():
    members = {"cnn/a": proba(40, 0), "cnn/b": proba(40, 1), "knn/hsv16": proba(40, 2)}
    mean = mean_proba(members)
    assert mean.dtype == np.float32 and mean.shape == (40, 5)
    manual = (members["cnn/a"] + members["cnn/b"] + members["knn/hsv16"]) / 3
    np.testing.assert_allclose(mean, manual, rtol=1e-6)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0, atol=1e-5)
    # Equal weights: the order of the members does not matter.
    reordered = mean_proba(dict(reversed(list(members.items()))))
    np.testing.assert_allclose(reordered, mean, rtol=1e-6)


def test_mean_can_beat_every_member():
    """Two members wrong on different images: the mean is right on all of them."""
    labels = np.array([0, 1, 2, 3])
    a = np.full((4, 5), 0.1, np.float32)
    b = np.full((4, 5), 0.1, np.float32)
    a[np.arange(4), labels] = 0.6
    b[np.arange(4), labels] = 0.6
    a[0] = [0.35, 0.4, 0.05, 0.1, 0.1]  # a wrong on image 0, b sure of it
    b[3] = [0.1, 0.1, 0.05, 0.35, 0.4]  # b wrong on image 3, a sure of it
    mean = mean_proba({"cnn/a": a, "cnn/b": b})
    assert (mean.argmax(1) == labels).all()
    assert (a.argmax(1) == labels).mean() == (b.argmax(1) == labels).mean() == 0.75


@pytest.mark.parametrize(
    "probas, match",
    [
        ({"cnn/a": proba(4, 0)}, "at least 2"),
        ({"cnn/a": proba(4, 0), "cnn/b": proba(5, 1)}, r"\(N, 5\)"),
        ({"cnn/a": proba(4, 0)[:, :3], "cnn/b": proba(4, 1)[:, :3]}, r"\(N, 5\)"),
    ],
)
def test_bad_members_are_refused(probas, match):
    with pytest.raises(ValueError, match=match):
        mean_proba(probas)


def test_member_name_from_a_results_path():
    assert layout.model_of("results/cnn/baseline/val_proba.npy") == "cnn/baseline"
    assert layout.model_of("/x/results/knn/hsv16/metrics.json") == "knn/hsv16"


def test_metrics_and_summary_row(tmp_path):
    labels = np.array([0, 1, 2, 3, 4, 0])
    members = {"cnn/a": proba(6, 0), "knn/hsv8": proba(6, 1)}
    mean = mean_proba(members)
    member_metrics = {
        "cnn/a": {"features": "image+hsv16", "val_accuracy": 0.5},
        "knn/hsv8": {"features": "hsv8", "val_accuracy": 0.25},
    }
    metrics = ensemble_metrics("mean", list(members), mean, labels, member_metrics, n_test=3)
    assert metrics["model"] == "ensemble" and metrics["variant"] == "mean"
    assert metrics["members"] == ["cnn/a", "knn/hsv8"]
    assert metrics["features"] == "image+hsv16+hsv8"
    assert metrics["val_accuracy"] == pytest.approx(np.mean(mean.argmax(1) == labels))
    assert metrics["member_val_accuracy"] == {"cnn/a": 0.5, "knn/hsv8": 0.25}
    # Through the summary like any model.
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    per_class_report(labels, mean).to_csv(tmp_path / "report.csv", index=False)
    row = summary_row(tmp_path / "metrics.json", tmp_path / "report.csv")
    table = summarise([row])
    assert table.loc[0, "model"] == "ensemble"
    assert table.loc[0, "val_accuracy"] == pytest.approx(metrics["val_accuracy"])
    assert isinstance(table, pd.DataFrame)
    with pytest.raises(ValueError, match="labels"):
        ensemble_metrics("mean", list(members), mean, labels[:5], member_metrics, n_test=3)
