"""Snakemake entry point: store the augmented training set before any training."""

import logging

from deepfake.augment import AugmentParams, augment_split
from deepfake.io import load_arrays, save_arrays
from deepfake.smk import job_from_argv, run


def main(smk):
    train = load_arrays(smk.input[0])
    params = AugmentParams(**smk.params.augment)
    augmented = augment_split(train["images"], train["ids"], train["labels"], params)
    logging.info("%d originals + %d copies each", len(train["images"]), params.copies)
    save_arrays(smk.output[0], **augmented)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("augment"))  # noqa: F821
