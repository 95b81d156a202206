"""Snakemake entry point: a grid of training images, one row per class."""

import numpy as np

from deepfake.plots import sample_grid, save
from deepfake.smk import job_from_argv, run


def main(smk):
    with np.load(smk.input[0]) as arrays:
        figure = sample_grid(arrays["images"], arrays["labels"])
    save(figure, smk.output[0], demo=smk.params.demo)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("sample_grid"))  # noqa: F821
