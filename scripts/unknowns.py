"""Snakemake entry point: the detector of images of none of the five generators, fitted on
the training images' descriptors (and, with unknowns.model, that model's uncertainty), its
threshold chosen on held-out training images (the run's calibration hold-out, or else a
seeded tenth of the training images kept out of the fit); the share of validation images
it calls unknown goes to its metrics."""

import logging

import numpy as np

from deepfake.io import save_json
from deepfake.smk import job_from_argv, run
from deepfake.training_sets import holdout_mask
from deepfake.unknowns import UnknownDetector

HELD_OUT = 0.1  # of the training images, when the run holds none out for calibration


def groups(paths) -> list[np.ndarray]:
    return [np.load(p) for p in ([paths] if isinstance(paths, str) else paths)]


def main(smk):
    train = groups(smk.input.train)
    if "holdout" in smk.input.keys():
        fit, heldout, source = train, groups(smk.input.holdout), "the calibration hold-out"
    else:
        with np.load(smk.input.train_arrays) as arrays:
            held = holdout_mask(arrays["labels"], HELD_OUT, smk.params.seed)
        fit, heldout = [g[~held] for g in train], [g[held] for g in train]
        source = f"{held.sum()} training images kept out of the fit"
    u, model = smk.params.unknowns, str(smk.params.model)
    heldout_proba = np.load(smk.input.holdout_proba) if model else None
    detector = UnknownDetector.fit(
        smk.params.descriptors, fit, heldout, u["dims"], u["k"], u["quantile"],
        heldout_proba=heldout_proba, model=model,
    )  # fmt: skip
    detector.save(smk.output.detector)
    val_proba = np.load(smk.input.val_proba) if model else None
    val, threshold = detector.score_rows(groups(smk.input.validation), val_proba)
    metrics = {
        "descriptors": list(detector.descriptors),
        "model": model,
        "threshold": threshold,
        "distance_threshold": detector.distance_threshold,
        "quantile": detector.quantile,
        "threshold_from": source,
        "n_reference": len(detector.reference),
        "val_unknown_rate": float(np.mean(val > threshold)),
        "params": dict(u),
    }
    save_json(smk.output.metrics, metrics)
    logging.info(
        "threshold %.3f (%s); validation images called unknown: %.2f%%",
        threshold,
        source,
        100 * metrics["val_unknown_rate"],
    )


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("unknowns"))  # noqa: F821
