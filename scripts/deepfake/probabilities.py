"""What every model rule writes besides its folder: its calibrated probabilities of the
validation, test and held-out sets (``val_proba.npy``, ``test_proba.npy``,
``holdout_proba.npy``; the last empty when the run holds nothing out)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from deepfake import N_CLASSES
from deepfake.calibration import calibrate
from deepfake.io import save_npy

# The sets a model predicts, as its rule's inputs name them (the training set is "train").
PREDICTED = ("validation", "test", "holdout")


def sets_of(named_inputs) -> list[str]:
    """The sets among a rule's inputs (``<set>_arrays``): train, validation, test and,
    when the run holds images out, holdout."""
    return [s for s in ("train", *PREDICTED) if f"{s}_arrays" in named_inputs.keys()]


def calibrated(
    raw: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]
) -> tuple[float, dict, dict]:
    """:func:`deepfake.calibration.calibrate` of a model's raw probabilities by set, given
    the labels by set (the holdout's, when there is one; validation's, to report)."""
    holdout = labels.get("holdout") if "holdout" in raw else None
    return calibrate(raw, holdout, labels["validation"])


def save_probabilities(output, proba: Mapping[str, np.ndarray]) -> None:
    """Write the rule's val_proba, test_proba and holdout_proba outputs."""
    empty = np.empty((0, N_CLASSES), dtype=np.float32)
    save_npy(output.val_proba, proba["validation"])
    save_npy(output.test_proba, proba["test"])
    save_npy(output.holdout_proba, proba.get("holdout", empty))
