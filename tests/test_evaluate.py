"""Reports, summary order and the submission table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepfake.evaluate import confusion, per_class_report, submission, summarise, summary_row


def onehot(labels):
    return np.eye(5, dtype=np.float32)[labels]


def test_per_class_report_and_confusion():
    truth = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    predicted = np.array([0, 0, 1, 2, 2, 2, 3, 3, 4, 0])
    report = per_class_report(truth, onehot(predicted)).set_index("class")
    assert report.loc["1", "recall"] == 0.5 and report.loc["2", "precision"] == pytest.approx(2 / 3)
    assert report.loc["accuracy", "f1-score"] == pytest.approx(0.8)
    counts = confusion(truth, onehot(predicted))
    assert counts.trace() == 8 and counts[4, 0] == 1 and counts[1, 2] == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_class_report_is_scikit_learns(seed):
    """The numpy report gives scikit-learn's classification_report and confusion_matrix,
    a class never predicted (precision 0) and one never present (support 0) included."""
    from sklearn.metrics import classification_report, confusion_matrix

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, 200)  # class 4 absent
    predicted = np.where(rng.random(200) < 0.6, truth, rng.integers(0, 5, 200))
    predicted[predicted == 3] = 2  # class 3 never predicted
    report = per_class_report(truth, onehot(predicted)).set_index("class")
    expected = classification_report(
        truth, predicted, labels=list(range(5)), output_dict=True, zero_division=0
    )
    assert report.loc["accuracy", "f1-score"] == pytest.approx(expected.pop("accuracy"))
    for name, row in expected.items():
        for column, value in row.items():
            assert report.loc[name, column] == pytest.approx(value, rel=1e-12), (name, column)
    counts = confusion(truth, onehot(predicted))
    np.testing.assert_array_equal(counts, confusion_matrix(truth, predicted, labels=range(5)))


def test_summary_row_and_order(tmp_path):
    truth = np.repeat(np.arange(5), 4)
    rows = []
    for name, wrong in [("a", 6), ("b", 2), ("c", 2)]:
        predicted = truth.copy()
        predicted[:wrong] = (predicted[:wrong] + 1) % 5
        metrics, report = tmp_path / f"{name}.json", tmp_path / f"{name}.csv"
        accuracy = float(np.mean(predicted == truth))
        record = {"family": "knn", "name": name, "inputs": name, "protocol": "report",
                  "val_accuracy": accuracy, "best_k": 3, "train_seconds": 1.25,
                  "train_pflop": 0.0, "data": {"data_dir": "demo", "demo": True},
                  "params": {"k": [3, 5]}}  # fmt: skip
        metrics.write_text(json.dumps(record))
        per_class_report(truth, onehot(predicted)).to_csv(report, index=False)
        rows.append(summary_row(metrics, report))
    table, full = summarise(rows)
    assert list(table["model"]) == ["knn/b", "knn/c", "knn/a"]  # accuracy, then name on a tie
    assert list(table.columns) == [
        "model", "family", "val_accuracy", "macro_f1", "weakest_class", "protocol",
        "train_seconds", "train_pflop", "trained_on",
    ]  # fmt: skip
    assert table.loc[2, "weakest_class"] == 0 and full.loc[2, "recall_0"] == 0.0
    assert full.loc[0, "best_k"] == 3 and full.loc[0, "params.k"] == "3 5"
    assert full.loc[0, "name"] == "b" and full.loc[0, "inputs"] == "b"  # the record's keys
    assert table.loc[0, "trained_on"] == "demo (synthetic)" and table.loc[0, "protocol"] == "report"


def test_submission_keeps_test_order_and_argmax():
    ids = np.array(["z", "a", "m"])
    proba = np.array([[0.1, 0.9, 0, 0, 0], [0, 0, 0, 0, 1], [0.6, 0.4, 0, 0, 0]])
    table = submission(ids, proba)
    assert table.columns.tolist() == ["image_id", "label"]
    assert table["image_id"].tolist() == ["z", "a", "m"] and table["label"].tolist() == [1, 4, 0]
    with pytest.raises(ValueError, match="3 test ids but 2"):
        submission(ids, proba[:2])


def test_training_compute_reads_as_a_person_reads_it():
    from deepfake.metrics import compute_text

    assert compute_text(0.258) == "0.258 PFLOP"
    assert compute_text(4.2e-05) == "4.2e-05 PFLOP"  # a tiny network, not "0.000"
    assert compute_text(0.0) == ""  # knn, gbm: no network trained, nothing counted
