"""Snakemake entry point: the gradient-boosted model on the descriptors, saved as a model
folder with its temperature (fitted on the held-out images, if any), and its calibrated
probabilities. Nothing is chosen on validation."""

import logging
import time
from pathlib import Path

import numpy as np

from deepfake.gbm_model import GbmModel
from deepfake.io import save_json
from deepfake.metrics import metrics_record
from deepfake.predictions import calibrated, save_predictions, sets_of
from deepfake.smk import job_from_argv, run


def load(smk, split):
    """The split's descriptor groups and labels."""
    with np.load(getattr(smk.input, f"{split}_arrays")) as arrays:
        labels = arrays["labels"]
    return [np.load(f) for f in getattr(smk.input, f"{split}_features")], labels


def main(smk):
    sets = {name: load(smk, name) for name in sets_of(smk.input)}
    (train_g, train_y), (_, val_y) = sets["train"], sets["validation"]
    descriptors = list(smk.params.descriptors)
    start = time.perf_counter()
    model = GbmModel.fit(descriptors, train_g, train_y, smk.params.gbm)
    fit_seconds = time.perf_counter() - start
    raw = {
        name: model.proba_from_descriptors(g) for name, (g, _) in sets.items() if name != "train"
    }
    temperature, proba, calibration = calibrated(raw, {n: y for n, (_, y) in sets.items()})
    model.save(Path(smk.output.card).parent, data=smk.params.data, temperature=temperature)
    save_predictions(smk.output, proba)
    metrics = metrics_record(
        "gbm",
        str(smk.params.name),
        features="+".join(descriptors),
        protocol="clean",
        val_proba=proba["validation"],
        val_labels=val_y,
        n_train=len(train_y),
        n_test=len(proba["test"]),
        train_seconds=fit_seconds,
        data=smk.params.data,
        params=smk.params.gbm,
        calibration=calibration,
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
