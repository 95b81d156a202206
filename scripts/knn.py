"""Snakemake entry point: KNN grid over (k, voting), best refit, validation and test
probabilities. For the descriptor combination, group weights, k and voting come from
cross-validation on the training split, and validation is scored once."""

import logging

import numpy as np

from deepfake import SPLITS
from deepfake.features import COMBINATION, pixel_features
from deepfake.io import save_csv, save_json, save_npy
from deepfake.knn import best_k, combination_knn, knn_grid, knn_proba
from deepfake.smk import run


def load(smk, split):
    """Labels, and the split's descriptor groups (raw pixels: one uint8 group)."""
    with np.load(getattr(smk.input, f"{split}_arrays")) as arrays:
        labels = arrays["labels"]
        if smk.wildcards.features == "pixels":
            return [pixel_features(arrays["images"])], labels
    files = getattr(smk.input, f"{split}_features")
    return [np.load(f) for f in ([files] if isinstance(files, str) else files)], labels


def main(smk):
    (train_g, train_y), (val_g, val_y), (test_g, _) = (load(smk, s) for s in SPLITS)
    features = smk.wildcards.features
    metrics = {"model": "knn", "variant": features, "features": features}
    if features == COMBINATION:
        combo = smk.params.combination
        cv, chosen, (val_proba, test_proba) = combination_knn(
            train_g,
            train_y,
            [val_g, test_g],
            smk.params.k,
            smk.params.weights,
            combo["group_weights"],
            combo["folds"],
            combo["seed"],
            n_jobs=smk.threads,
        )
        logging.info("cross-validation on the training split chose %s", chosen)
        k, weights = chosen["k"], chosen["weights"]
        grid = cv.assign(group_weights=[" ".join(map(str, w)) for w in cv["group_weights"]])
        metrics |= {
            "groups": list(combo["groups"]),
            "group_weights": chosen["group_weights"],
            "group_scales": chosen["group_scales"],
            "cv_accuracy": chosen["cv_accuracy"],
            "cv_folds": combo["folds"],
        }
    else:
        train_x, val_x, test_x = train_g[0], val_g[0], test_g[0]
        grid, probas = knn_grid(
            train_x, train_y, val_x, val_y, smk.params.k, smk.params.weights, smk.threads
        )
        k, weights = best_k(grid)
        val_proba = probas[(k, weights)]
        logging.info("validation accuracy per (k, weights):\n%s", grid.to_string(index=False))
        test_proba = knn_proba(train_x, train_y, test_x, k, weights, n_jobs=smk.threads)
    val_accuracy = float(np.mean(val_proba.argmax(1) == val_y))
    save_csv(smk.output.grid, grid)
    save_npy(smk.output.val_proba, val_proba)
    save_npy(smk.output.test_proba, test_proba)
    metrics |= {
        "val_accuracy": val_accuracy,
        "best_k": k,
        "weights": weights,
        "n_train": len(train_y),
        "n_val": len(val_y),
    }
    save_json(smk.output.metrics, metrics)
    logging.info("k = %d (%s votes), validation accuracy %.4f", k, weights, val_accuracy)


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
