"""Calibrated probabilities: one temperature per model, fitted on held-out training
images (never on validation labels), and the measures that say how well it worked.

Temperature scaling maps probabilities ``p`` to ``p ** (1 / T)`` renormalised (the
softmax of ``log p / T``): monotone, so no predicted label changes, only how sure the
model says it is. ``T`` minimises the negative log-likelihood of the held-out images
(``calibration.holdout`` of the training split, which no model trains on).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# Probabilities are clipped here before a logarithm (a KNN vote can be exactly 0).
EPS = 1e-7
ECE_BINS = 15
# The temperature's search range (log scale): from 20x sharper to 20x softer.
LOG_T_RANGE = (-3.0, 3.0)


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``proba`` (N, 5) at ``temperature``: ``p ** (1 / T)`` renormalised, float32.
    Temperature 1 returns the same numbers."""
    proba = np.asarray(proba, dtype=np.float32)
    if temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba.astype(np.float64), EPS, 1.0)) / temperature
    logits[proba <= 0] = -np.inf  # an impossible class stays impossible
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def nll(proba: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels (probabilities clipped at 1e-7)."""
    picked = np.asarray(proba, dtype=np.float64)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, EPS, 1.0))))


def ece(proba: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: over ``bins`` equal-width bins of the top
    probability, the image-weighted mean gap between confidence and accuracy."""
    table = reliability(proba, labels, bins)
    weights = table["count"] / max(1, table["count"].sum())
    return float(np.sum(weights * np.abs(table["confidence"] - table["accuracy"])))


def reliability(proba: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict:
    """Per bin of the top probability: its images, mean confidence and accuracy (the
    reliability diagram's bars; empty bins have count 0)."""
    proba = np.asarray(proba)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(labels)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=confidence, minlength=bins) / count
        accuracy = np.bincount(index, weights=correct, minlength=bins) / count
    return {
        "lower": np.arange(bins) / bins,
        "count": count,
        "confidence": np.nan_to_num(mean_conf),
        "accuracy": np.nan_to_num(accuracy),
    }


def fit_temperature(proba: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the NLL of ``labels`` under ``proba`` (held-out
    images), searched on a log scale in :data:`LOG_T_RANGE`."""
    from scipy.optimize import minimize_scalar

    if len(labels) == 0:
        raise ValueError("no held-out images to fit a temperature on")
    found = minimize_scalar(
        lambda log_t: nll(apply_temperature(proba, float(np.exp(log_t))), labels),
        bounds=LOG_T_RANGE,
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(found.x))


def calibrate(
    raw: Mapping[str, np.ndarray],
    holdout_labels: np.ndarray | None,
    val_labels: np.ndarray,
) -> tuple[float, dict, dict]:
    """A model's temperature and its calibrated probabilities.

    raw: the model's probabilities by set (``validation``, ``test`` and, when the run
        holds images out, ``holdout``). holdout_labels: their labels, or None (no
        hold-out: temperature 1, nothing changes).
    Returns (temperature, calibrated probabilities by set, the record for
    metrics.json: temperature, validation NLL and ECE before and after).
    """
    if holdout_labels is None:
        return 1.0, dict(raw), {"temperature": 1.0, "fitted_on": "nothing (no hold-out)"}
    temperature = fit_temperature(raw["holdout"], holdout_labels)
    calibrated = {name: apply_temperature(p, temperature) for name, p in raw.items()}
    before, after = raw["validation"], calibrated["validation"]
    record = {
        "temperature": temperature,
        "fitted_on": f"{len(holdout_labels)} held-out training images",
        "val_nll_before": nll(before, val_labels),
        "val_nll_after": nll(after, val_labels),
        "val_ece_before": ece(before, val_labels),
        "val_ece_after": ece(after, val_labels),
    }
    return temperature, calibrated, record


class Calibrated:
    """A loaded model whose probabilities pass through its temperature."""

    def __init__(self, model, temperature: float):
        self.model, self.temperature = model, float(temperature)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return apply_temperature(self.model.predict_proba(images), self.temperature)

    def __getattr__(self, name):
        return getattr(self.model, name)
