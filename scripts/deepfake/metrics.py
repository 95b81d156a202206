"""One record per model: every family's ``metrics.json`` is built here, with the same
keys, so readers (the summary, the report, the tools) never try two names.

The common keys (:data:`COMMON_KEYS`): ``family`` and ``name`` (the model is
``family/name``), ``inputs`` (what it reads, e.g. ``image+hsv16``), ``protocol``
(``report``: validation picks some choice; ``clean``: validation is scored once, at the
end), ``val_accuracy``, ``n_train``, ``n_val``, ``n_test``, ``train_seconds`` (the fit's
wall time; an ensemble's: its members' sum), ``train_pflop`` (training compute; 0 where
not counted), ``data`` (what it was trained on), ``params`` (its settings),
``calibration`` (its temperature, and the validation NLL and ECE before and after),
``versions``. Each family adds its own keys after them (a CNN's epochs and precision, a
KNN's k, an ensemble's members).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from deepfake.provenance import versions as software_versions

PROTOCOLS = {
    "report": "validation picks some choice (the epoch, the rate, k)",
    "clean": "validation scored once, at the end",
}
COMMON_KEYS = (
    "family",
    "name",
    "inputs",
    "protocol",
    "val_accuracy",
    "n_train",
    "n_val",
    "n_test",
    "train_seconds",
    "train_pflop",
    "data",
    "params",
    "calibration",
    "versions",
)


def accuracy(proba: np.ndarray, labels: np.ndarray) -> float:
    """The share of rows whose most probable class is the label."""
    proba, labels = np.asarray(proba), np.asarray(labels)
    if len(proba) != len(labels):
        raise ValueError(f"{len(labels)} labels but {len(proba)} predictions")
    return float(np.mean(proba.argmax(axis=1) == labels))


def metrics_record(
    family: str,
    name: str,
    *,
    inputs: str,
    protocol: str,
    val_proba: np.ndarray,
    val_labels: np.ndarray,
    n_train: int,
    n_test: int,
    train_seconds: float,
    data: Mapping,
    params: Mapping,
    calibration: Mapping,
    train_pflop: float = 0.0,
    backend: str | None = None,
    **extra,
) -> dict:
    """A model's ``metrics.json``: the common keys, then the family's ``extra`` ones
    (``backend``: the Keras backend a network trained on, recorded with its version)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    clash = sorted(set(extra) & set(COMMON_KEYS))
    if clash:
        raise ValueError(f"family keys {clash} would replace common keys")
    record = {
        "family": family,
        "name": name,
        "inputs": inputs,
        "protocol": protocol,
        "val_accuracy": accuracy(val_proba, val_labels),
        "n_train": int(n_train),
        "n_val": len(val_labels),
        "n_test": int(n_test),
        "train_seconds": float(train_seconds),
        "train_pflop": float(train_pflop),
        "data": dict(data),
        "params": dict(params),
        "calibration": dict(calibration),
        "versions": software_versions(backend),
    }
    if backend is not None:
        record["backend"] = backend
    return record | extra


def compute_text(pflop: float) -> str:
    """Training compute as a reader reads it (``0.258 PFLOP``, ``4.2e-05 PFLOP`` for a
    tiny network); "" where none was counted (no network trained)."""
    return f"{float(pflop):.3g} PFLOP" if float(pflop) > 0 else ""
