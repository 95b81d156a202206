"""Snakemake entry point: the gradient-boosted model on the descriptors, saved as a model
folder, with its validation and test probabilities computed through the saved model.
Nothing is chosen on validation."""

import logging
import time
from pathlib import Path

import numpy as np

from deepfake import SPLITS
from deepfake.gbm_model import GbmModel
from deepfake.io import save_json, save_npy
from deepfake.provenance import versions
from deepfake.smk import run


def load(smk, split):
    """The split's descriptor groups and labels."""
    with np.load(getattr(smk.input, f"{split}_arrays")) as arrays:
        labels = arrays["labels"]
    return [np.load(f) for f in getattr(smk.input, f"{split}_features")], labels


def main(smk):
    (train_g, train_y), (val_g, val_y), (test_g, _) = (load(smk, s) for s in SPLITS)
    descriptors = list(smk.params.descriptors)
    start = time.perf_counter()
    model = GbmModel.fit(descriptors, train_g, train_y, smk.params.gbm)
    fit_seconds = time.perf_counter() - start
    model.save(Path(smk.output.card).parent)
    val_proba = model.proba_from_descriptors(val_g)
    test_proba = model.proba_from_descriptors(test_g)
    val_accuracy = float(np.mean(val_proba.argmax(1) == val_y))
    save_npy(smk.output.val_proba, val_proba)
    save_npy(smk.output.test_proba, test_proba)
    metrics = {
        "model": "gbm",
        "variant": str(smk.params.name),
        "features": "+".join(descriptors),
        "val_accuracy": val_accuracy,
        "params": dict(smk.params.gbm),
        "n_features": int(sum(g.shape[1] for g in train_g)),
        "fit_seconds": fit_seconds,
        "n_train": len(train_y),
        "n_val": len(val_y),
        "versions": versions(),
    }
    save_json(smk.output.metrics, metrics)
    logging.info(
        "%d features, %d rounds: validation accuracy %.4f (fit %.0f s)",
        metrics["n_features"],
        smk.params.gbm["max_iter"],
        val_accuracy,
        fit_seconds,
    )


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
