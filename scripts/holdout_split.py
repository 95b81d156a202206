"""Snakemake entry point: hold a stratified share of the training split out of every
model's training (calibration.holdout): fit.npz, what the models train on, and
holdout.npz, what their temperatures are fitted on."""

import logging

import numpy as np

from deepfake.io import load_arrays, save_arrays
from deepfake.smk import job_from_argv, run
from deepfake.training_sets import holdout_mask


def main(smk):
    train = load_arrays(smk.input[0])
    held = holdout_mask(train["labels"], smk.params.holdout, smk.params.seed)
    save_arrays(smk.output.fit, **{k: v[~held] for k, v in train.items()})
    save_arrays(smk.output.holdout, **{k: v[held] for k, v in train.items()})
    counts = np.bincount(train["labels"][held])
    logging.info("%d of %d training images held out (per class %s)", held.sum(), len(held), counts)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("holdout_split"))  # noqa: F821
