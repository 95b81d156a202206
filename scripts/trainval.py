"""Snakemake entry point: the training and validation images as one set (refit.model):
what every model of a refit run learns from."""

import logging

import numpy as np

from deepfake.io import load_arrays, save_arrays
from deepfake.smk import job_from_argv, run
from deepfake.training_sets import joined


def main(smk):
    sets = [load_arrays(path) for path in (smk.input.train, smk.input.validation)]
    both = joined(*sets)
    save_arrays(smk.output[0], **both)
    logging.info(
        "%d training + %d validation images (per class %s)",
        len(sets[0]["ids"]),
        len(sets[1]["ids"]),
        np.bincount(both["labels"]),
    )


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("trainval"))  # noqa: F821
