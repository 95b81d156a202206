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
from deepfake.metrics import metrics_record
from deepfake.smk import job_from_argv, run


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
    model.save(Path(smk.output.card).parent, dict(smk.params.data))
    val_proba = model.proba_from_descriptors(val_g)
    test_proba = model.proba_from_descriptors(test_g)
    save_npy(smk.output.val_proba, val_proba)
    save_npy(smk.output.test_proba, test_proba)
    metrics = metrics_record(
        "gbm",
        str(smk.params.name),
        features="+".join(descriptors),
        protocol="clean",
        val_proba=val_proba,
        val_labels=val_y,
        n_train=len(train_y),
        n_test=len(test_proba),
        train_seconds=fit_seconds,
        data=smk.params.data,
        params=smk.params.gbm,
        n_features=int(sum(g.shape[1] for g in train_g)),
    )
    save_json(smk.output.metrics, metrics)
    logging.info(
        "%d features, %d rounds: validation accuracy %.4f (fit %.0f s)",
        metrics["n_features"],
        smk.params.gbm["max_iter"],
        metrics["val_accuracy"],
        fit_seconds,
    )


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("gbm"))  # noqa: F821
