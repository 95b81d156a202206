"""Snakemake entry point: KNN grid over k, best k refit, validation and test probabilities."""

import logging

import numpy as np

from deepfake import SPLITS
from deepfake.features import parse_feature_name, pixel_features
from deepfake.io import save_csv, save_json, save_npy
from deepfake.knn import best_k, knn_grid, knn_proba
from deepfake.smk import run


def load(smk, split):
    """Features and labels of a split: its histograms, or its raw pixels."""
    kind, _ = parse_feature_name(smk.wildcards.features)
    with np.load(getattr(smk.input, f"{split}_arrays")) as arrays:
        labels = arrays["labels"]
        if kind == "hsv":
            return np.load(getattr(smk.input, f"{split}_features")), labels
        return pixel_features(arrays["images"]), labels


def main(smk):
    (train_x, train_y), (val_x, val_y), (test_x, _) = (load(smk, s) for s in SPLITS)
    grid, val_proba = knn_grid(train_x, train_y, val_x, val_y, smk.params.k, n_jobs=smk.threads)
    k = best_k(grid)
    logging.info("validation accuracy per k:\n%s", grid.to_string(index=False))
    test_proba = knn_proba(train_x, train_y, test_x, k, n_jobs=smk.threads)
    save_csv(smk.output.grid, grid)
    save_npy(smk.output.val_proba, val_proba[k])
    save_npy(smk.output.test_proba, test_proba)
    features = smk.wildcards.features
    metrics = {
        "model": "knn",
        "variant": features,
        "features": features,
        "val_accuracy": float(grid.loc[grid["k"] == k, "val_accuracy"].iloc[0]),
        "best_k": k,
        "n_train": len(train_x),
        "n_val": len(val_x),
    }
    save_json(smk.output.metrics, metrics)
    logging.info("best k = %d, validation accuracy %.4f", k, metrics["val_accuracy"])


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
