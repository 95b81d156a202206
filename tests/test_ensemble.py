"""The ensemble model: equal-weight mean of its members, metrics, summary row."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepfake import layout
from deepfake.ensemble import mean_proba, members_record
from deepfake.evaluate import per_class_report, summarise, summary_row
from deepfake.metrics import COMMON_KEYS, accuracy, metrics_record


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


def member(inputs, accuracy, protocol="clean", seconds=10.0, pflop=0.0, demo=True):
    return {
        "inputs": inputs,
        "val_accuracy": accuracy,
        "protocol": protocol,
        "train_seconds": seconds,
        "train_pflop": pflop,
        "n_train": 100,
        "data": {"data_dir": "demo", "demo": demo},
    }


def test_metrics_and_summary_row(tmp_path):
    labels = np.array([0, 1, 2, 3, 4, 0])
    members = {"cnn/a": proba(6, 0), "knn/hsv8": proba(6, 1)}
    mean = mean_proba(members)
    member_metrics = {
        "cnn/a": member("image+hsv16", 0.5, seconds=30.0, pflop=0.25),
        "knn/hsv8": member("hsv8", 0.25, protocol="report", seconds=2.0),
    }
    metrics = metrics_record(
        "ensemble",
        "mean",
        val_proba=mean,
        val_labels=labels,
        n_test=3,
        params={"members": list(members)},
        calibration={"temperature": 1.0},
        members=list(members),
        **members_record(list(members), member_metrics),
    )
    assert set(COMMON_KEYS) <= set(metrics)
    assert metrics["family"] == "ensemble" and metrics["name"] == "mean"
    assert metrics["members"] == ["cnn/a", "knn/hsv8"]
    assert metrics["inputs"] == "image+hsv16+hsv8"
    assert metrics["val_accuracy"] == pytest.approx(np.mean(mean.argmax(1) == labels))
    assert metrics["member_val_accuracy"] == {"cnn/a": 0.5, "knn/hsv8": 0.25}
    # what it costs: its members' sums; clean only if every member is
    assert metrics["train_seconds"] == 32.0 and metrics["train_pflop"] == 0.25
    assert metrics["protocol"] == "report" and metrics["data"]["demo"] is True
    # Through the summary like any model.
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    per_class_report(labels, mean).to_csv(tmp_path / "report.csv", index=False)
    row = summary_row(tmp_path / "metrics.json", tmp_path / "report.csv")
    table, full = summarise([row])
    assert table.loc[0, "model"] == "ensemble/mean" and table.loc[0, "family"] == "ensemble"
    assert table.loc[0, "val_accuracy"] == pytest.approx(metrics["val_accuracy"], abs=1e-4)
    assert full.loc[0, "members"] == "cnn/a knn/hsv8"
    with pytest.raises(ValueError, match="labels"):
        accuracy(mean, labels[:5])


def test_members_trained_on_other_data_are_refused():
    member_metrics = {"cnn/a": member("image", 0.5), "knn/b": member("hsv8", 0.4, demo=False)}
    member_metrics["knn/b"]["data"]["data_dir"] = "/data"
    with pytest.raises(ValueError, match="trained on different data"):
        members_record(["cnn/a", "knn/b"], member_metrics)
