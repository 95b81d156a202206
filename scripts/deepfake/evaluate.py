"""Scores of a model's validation predictions, the summary table, the submission."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake import N_CLASSES
from deepfake.datafolder import trained_on

CLASSES = list(range(N_CLASSES))


def per_class_report(labels: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, then the macro and weighted averages
    and accuracy: scikit-learn's ``classification_report`` (``zero_division=0``), from
    the confusion counts (numpy only: an evaluate job need not load scikit-learn)."""
    counts = confusion(labels, proba).astype(np.float64)
    hits, support, predicted = np.diag(counts), counts.sum(axis=1), counts.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = {
            "precision": np.where(predicted > 0, hits / predicted, 0.0),
            "recall": np.where(support > 0, hits / support, 0.0),
            "f1-score": np.where(support + predicted > 0, 2 * hits / (support + predicted), 0.0),
        }
    rows = [
        {"class": str(c)} | {k: float(v[c]) for k, v in scores.items()} | {"support": support[c]}
        for c in CLASSES
    ]
    for name, weights in (("macro avg", None), ("weighted avg", support)):
        averages = {k: float(np.average(v, weights=weights)) for k, v in scores.items()}
        rows.append({"class": name} | averages | {"support": support.sum()})
    frame = pd.DataFrame(rows)
    frame["support"] = frame["support"].astype(int)
    accuracy = float(hits.sum() / len(labels))
    accuracy_row = {"class": "accuracy", "f1-score": accuracy, "support": len(labels)}
    return pd.concat([frame, pd.DataFrame([accuracy_row])], ignore_index=True)


def confusion(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Confusion counts: rows are true classes, columns predicted classes."""
    cells = np.asarray(labels) * N_CLASSES + np.asarray(proba).argmax(1)
    return np.bincount(cells, minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)


# summary.csv: what a reader needs, one row per model (summary_full.csv has the rest).
SUMMARY_COLUMNS = [
    "model",
    "family",
    "val_accuracy",
    "macro_f1",
    "weakest_class",
    "protocol",
    "train_seconds",
    "train_pflop",
    "trained_on",
]


def summary_row(metrics_path: Path, report_path: Path) -> dict:
    """One model's full row: its metrics record (nested fields flattened with dots),
    macro F1, the weakest class and the recall of every class from its ``report.csv``."""
    metrics = json.loads(Path(metrics_path).read_text())
    report = pd.read_csv(report_path).set_index("class")
    recall = report.loc[[str(c) for c in CLASSES], "recall"].astype(float)
    row = {
        "model": f"{metrics['family']}/{metrics['name']}",
        "family": metrics["family"],
        "val_accuracy": float(metrics["val_accuracy"]),
        "macro_f1": float(report.loc["macro avg", "f1-score"]),
        "weakest_class": int(recall.idxmin()),
        "protocol": metrics["protocol"],
        "train_seconds": float(metrics["train_seconds"]),
        "train_pflop": float(metrics["train_pflop"]),
        "trained_on": trained_on(metrics.get("data")),
        **{f"recall_{c}": float(recall[str(c)]) for c in CLASSES},
    }
    flat = pd.json_normalize(metrics, sep=".")
    extra = {k: _cell(v) for k, v in flat.iloc[0].items() if k not in row}
    return row | extra


def _cell(value):
    """A value as one CSV cell: lists joined with spaces, the rest as it is."""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value


def summarise(rows: Iterable[dict], first: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, full): the rows sorted best first (validation accuracy, then macro F1,
    then name), or with the model ``first`` first (refit: its validation figures rank
    nothing, so the model named for the submission leads); the summary keeps
    :data:`SUMMARY_COLUMNS`, rounded for reading."""
    full = pd.DataFrame(list(rows)).sort_values(
        ["val_accuracy", "macro_f1", "model"], ascending=[False, False, True], kind="stable"
    )
    if first:
        if first not in set(full["model"]):
            raise ValueError(f"{first} is not a row of the summary: {list(full['model'])}")
        full = full.sort_values("model", key=lambda m: m != first, kind="stable")
    full = full.reset_index(drop=True)
    summary = full[SUMMARY_COLUMNS].copy()
    summary = summary.round({"val_accuracy": 4, "macro_f1": 4, "train_seconds": 1})
    summary["train_pflop"] = [float(f"{p:.3g}") for p in summary["train_pflop"]]
    ordered = SUMMARY_COLUMNS + [c for c in full.columns if c not in SUMMARY_COLUMNS]
    return summary, full[ordered]


def submission(test_ids: np.ndarray, test_proba: np.ndarray) -> pd.DataFrame:
    """``image_id,label`` for every test id, in the order of ``test.csv``."""
    if len(test_ids) != len(test_proba):
        raise ValueError(f"{len(test_ids)} test ids but {len(test_proba)} predictions")
    if len(set(test_ids)) != len(test_ids):
        raise ValueError("test ids are not unique")
    return pd.DataFrame({"image_id": test_ids, "label": test_proba.argmax(1).astype(int)})
