"""Scores of a model's validation predictions, the summary table, the submission."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix

from deepfake import N_CLASSES

CLASSES = list(range(N_CLASSES))
SUMMARY_COLUMNS = ["model", "variant", "features", "val_accuracy", "macro_f1", "worst_class"]


def per_class_report(labels: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, then accuracy, macro and weighted rows."""
    report = classification_report(
        labels, proba.argmax(1), labels=CLASSES, output_dict=True, zero_division=0
    )
    accuracy = report.pop("accuracy")
    frame = pd.DataFrame(report).T.rename_axis("class").reset_index()
    frame["support"] = frame["support"].astype(int)
    accuracy_row = {"class": "accuracy", "f1-score": accuracy, "support": len(labels)}
    return pd.concat([frame, pd.DataFrame([accuracy_row])], ignore_index=True)


def confusion(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Confusion counts: rows are true classes, columns predicted classes."""
    return confusion_matrix(labels, proba.argmax(1), labels=CLASSES)


def summary_row(metrics_path: Path, report_path: Path) -> dict:
    """One row of the summary from a model's ``metrics.json`` and ``report.csv``."""
    metrics = json.loads(Path(metrics_path).read_text())
    report = pd.read_csv(report_path).set_index("class")
    per_class = report.loc[[str(c) for c in CLASSES], "recall"]
    row = {
        "model": metrics["model"],
        "variant": metrics["variant"],
        "features": metrics["features"],
        "val_accuracy": float(metrics["val_accuracy"]),
        "macro_f1": float(report.loc["macro avg", "f1-score"]),
        "worst_class": int(per_class.astype(float).idxmin()),
    }
    extra = {key: value for key, value in metrics.items() if key not in row}
    return row | {f"recall_{c}": float(per_class[str(c)]) for c in CLASSES} | extra


def summarise(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows sorted best first (validation accuracy, then macro F1, then name)."""
    frame = pd.DataFrame(list(rows))
    frame = frame.sort_values(
        ["val_accuracy", "macro_f1", "model", "variant"],
        ascending=[False, False, True, True],
        kind="stable",
    )
    ordered = SUMMARY_COLUMNS + [c for c in frame.columns if c not in SUMMARY_COLUMNS]
    return frame[ordered].reset_index(drop=True)


def submission(test_ids: np.ndarray, test_proba: np.ndarray) -> pd.DataFrame:
    """``image_id,label`` for every test id, in the order of ``test.csv``."""
    if len(test_ids) != len(test_proba):
        raise ValueError(f"{len(test_ids)} test ids but {len(test_proba)} predictions")
    if len(set(test_ids)) != len(test_ids):
        raise ValueError("test ids are not unique")
    return pd.DataFrame({"image_id": test_ids, "label": test_proba.argmax(1).astype(int)})
