"""Snakemake entry point: one named descriptor (hsv<bins>, jointhsv, spectrum, lbp, cooc,
crosscooc) of one array file."""

import logging
import time

import numpy as np

from deepfake.descriptors import descriptor
from deepfake.io import save_npy
from deepfake.smk import job_from_argv, run


def main(smk):
    with np.load(smk.input[0]) as arrays:
        images = arrays["images"]
    start = time.perf_counter()
    values = descriptor(smk.wildcards.descriptor, images)
    seconds = time.perf_counter() - start
    logging.info(
        "%s of %d images: %s in %.1f s (%.0f images/s)",
        smk.wildcards.descriptor,
        len(images),
        values.shape,
        seconds,
        len(images) / max(seconds, 1e-9),
    )
    save_npy(smk.output[0], values)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("descriptors"))  # noqa: F821
