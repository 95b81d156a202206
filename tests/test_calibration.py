"""Calibrated probabilities: temperature scaling keeps every label, is fitted on held-out
images only, and lowers the negative log-likelihood of new ones; ECE and the reliability
table are what they say."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake.calibration import (
    Calibrated,
    apply_temperature,
    calibrate,
    ece,
    fit_temperature,
    nll,
    reliability,
)


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A model right 70% of the time that always says 95%."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    guess = np.where(rng.random(n) < 0.7, labels, (labels + rng.integers(1, 5, n)) % 5)
    proba = np.full((n, 5), 0.05 / 4, np.float32)
    proba[np.arange(n), guess] = 0.95
    return proba, labels


def test_temperature_never_changes_a_label_and_one_changes_nothing():
    proba, _ = overconfident(500, 0)
    proba[:10] = [0.4, 0.3, 0.2, 0.1, 0.0]  # a class with no vote stays impossible
    for t in (0.3, 1.0, 2.5, 10.0):
        scaled = apply_temperature(proba, t)
        assert (scaled.argmax(1) == proba.argmax(1)).all()
        np.testing.assert_allclose(scaled.sum(1), 1.0, atol=1e-6)
        assert (scaled[:10, 4] == 0).all()
    np.testing.assert_array_equal(apply_temperature(proba, 1.0), proba)
    # T then 1/T gives the numbers back
    np.testing.assert_allclose(
        apply_temperature(apply_temperature(proba, 2.0), 0.5), proba, atol=1e-6
    )


def test_a_temperature_fitted_on_held_out_images_lowers_the_nll_of_new_ones():
    held_out, held_labels = overconfident(400, 1)
    new, new_labels = overconfident(1000, 2)
    temperature = fit_temperature(held_out, held_labels)
    assert temperature > 1.5  # overconfident: softened
    after = apply_temperature(new, temperature)
    assert nll(after, new_labels) < nll(new, new_labels) - 0.2
    assert ece(after, new_labels) < 0.05 < ece(new, new_labels)  # 95% said, 70% right
    # the whole record: validation labels are only scored, never fitted on
    t2, calibrated, record = calibrate(
        {"holdout": held_out, "validation": new, "test": new[:5]}, held_labels, new_labels
    )
    assert t2 == pytest.approx(temperature)
    assert record["val_nll_after"] < record["val_nll_before"]
    assert record["fitted_on"] == "400 held-out training images"
    assert calibrated["test"].shape == (5, 5)


def test_without_a_hold_out_nothing_is_fitted():
    proba, labels = overconfident(50, 3)
    temperature, calibrated, record = calibrate({"validation": proba}, None, labels)
    assert temperature == 1.0 and calibrated["validation"] is proba
    assert record == {"temperature": 1.0, "fitted_on": "nothing (no hold-out)"}


def test_ece_and_the_reliability_table():
    proba = np.array([[0.9, 0.1, 0, 0, 0]] * 10 + [[0.6, 0.4, 0, 0, 0]] * 10, np.float32)
    labels = np.array([0] * 9 + [1] + [0] * 3 + [1] * 7)  # 90% right at 0.9, 30% at 0.6
    table = reliability(proba, labels, bins=10)
    assert table["count"][9] == 10 and table["count"][6] == 10
    assert table["accuracy"][9] == pytest.approx(0.9) and table["accuracy"][6] == pytest.approx(0.3)
    assert ece(proba, labels, bins=10) == pytest.approx(0.5 * 0.0 + 0.5 * 0.3)


def test_a_loaded_model_answers_at_its_temperature():
    class Fixed:
        def predict_proba(self, images):
            return np.array([[0.7, 0.2, 0.1, 0, 0]], np.float32)

    model = Calibrated(Fixed(), 2.0)
    np.testing.assert_allclose(
        model.predict_proba(None), apply_temperature(Fixed().predict_proba(None), 2.0)
    )
