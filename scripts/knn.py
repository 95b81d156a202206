"""Snakemake entry point: a KNN model (k and voting chosen on validation; for the descriptor
combination, group weights, k and voting by cross-validation on the training split, and
validation scored once), saved as a model folder with its temperature (fitted on the
held-out images, if any), and its calibrated probabilities."""

import logging
import time
from pathlib import Path

import numpy as np

from deepfake.features import descriptor
from deepfake.io import save_csv, save_json
from deepfake.knn_model import KnnModel
from deepfake.knn_search import (
    best_k,
    choose_combination,
    cross_validate_combination,
    group_scales,
    knn_grid,
)
from deepfake.metrics import metrics_record
from deepfake.predictions import calibrated, save_predictions, sets_of
from deepfake.settings import COMBINATION
from deepfake.smk import job_from_argv, run


def load(smk, split):
    """The split's descriptor groups (raw pixels: one uint8 group) and labels."""
    with np.load(getattr(smk.input, f"{split}_arrays")) as arrays:
        labels = arrays["labels"]
        if smk.wildcards.features == "pixels":
            return [descriptor("pixels", arrays["images"])], labels
    files = getattr(smk.input, f"{split}_features")
    return [np.load(f) for f in ([files] if isinstance(files, str) else files)], labels


def fit(smk, train_g, train_y, val_g, val_y) -> tuple[KnnModel, object, dict]:
    """The model, its grid (or cross-validation table) and the metrics of its choice."""
    features, threads = smk.wildcards.features, smk.threads
    if features != COMBINATION:
        grid, _ = knn_grid(
            train_g[0], train_y, val_g[0], val_y, smk.params.k, smk.params.weights, threads
        )
        logging.info("validation accuracy per (k, weights):\n%s", grid.to_string(index=False))
        k, voting = best_k(grid)
        return KnnModel.fit([features], train_g, train_y, k, voting, threads=threads), grid, {}
    combo = smk.params.combination
    cv = cross_validate_combination(
        train_g,
        train_y,
        smk.params.k,
        smk.params.weights,
        combo["group_weights"],
        combo["folds"],
        combo["seed"],
        threads,
    )
    chosen = choose_combination(cv)
    logging.info("cross-validation on the training split chose %s", chosen)
    scales = group_scales(train_g, seed=combo["seed"])
    model = KnnModel.fit(
        combo["groups"],
        train_g,
        train_y,
        chosen["k"],
        chosen["weights"],
        group_scales=scales,
        group_weights=chosen["group_weights"],
        threads=threads,
    )
    grid = cv.assign(group_weights=[" ".join(map(str, w)) for w in cv["group_weights"]])
    metrics = {
        "groups": list(combo["groups"]),
        "group_weights": list(model.group_weights),
        "group_scales": list(model.group_scales),
        "cv_accuracy": chosen["cv_accuracy"],
        "cv_folds": combo["folds"],
    }
    return model, grid, metrics


def main(smk):
    sets = {name: load(smk, name) for name in sets_of(smk.input)}
    (train_g, train_y), (val_g, val_y) = sets["train"], sets["validation"]
    features = smk.wildcards.features
    start = time.perf_counter()
    model, grid, choice = fit(smk, train_g, train_y, val_g, val_y)
    fit_seconds = time.perf_counter() - start  # the choice of k, voting (and weights)
    raw = {
        name: model.proba_from_descriptors(g) for name, (g, _) in sets.items() if name != "train"
    }
    temperature, proba, calibration = calibrated(raw, {n: y for n, (_, y) in sets.items()})
    model.save(Path(smk.output.card).parent, data=smk.params.data, temperature=temperature)
    save_csv(smk.output.grid, grid)
    save_predictions(smk.output, proba)
    metrics = metrics_record(
        "knn",
        features,
        features=features,
        # combo chooses by cross-validation on the training split; the others on validation
        protocol="clean" if features == COMBINATION else "report",
        val_proba=proba["validation"],
        val_labels=val_y,
        n_train=len(train_y),
        n_test=len(proba["test"]),
        train_seconds=fit_seconds,
        data=smk.params.data,
        params={"k": list(smk.params.k), "weights": list(smk.params.weights)}
        | ({"combination": smk.params.combination} if smk.params.combination else {}),
        calibration=calibration,
        best_k=model.k,
        voting=model.voting,
        **choice,
    )
    save_json(smk.output.metrics, metrics)
    logging.info(
        "k = %d (%s votes), validation accuracy %.4f",
        model.k,
        model.voting,
        metrics["val_accuracy"],
    )


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("knn"))  # noqa: F821
